"""The moderation domain's small value types: submissions, signals, reasons and decisions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping, NamedTuple

from moderation.pipeline.normalize import normalize


class PreparedRecord(NamedTuple):
    """A comment's fields as the classifier reads them, normalized once.

    It lives in the pipeline, not the classifier, so that the classifier depends on the pipeline and
    never the other way round.
    """

    folded: str
    cleaned: str
    name: str
    email: str
    url: str


class Severity(StrEnum):
    REJECT = "reject"
    HOLD = "hold"
    TRUST = "trust"


class Outcome(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"
    REJECT = "reject"

    @property
    def status(self) -> str:
        return {"approve": "approved", "hold": "held", "reject": "rejected"}[self.value]


@dataclass(frozen=True)
class Submission:
    """A comment as the CMS sent it, validated, plus its normalized forms for matching."""

    name: str
    email: str
    text: str
    url: str | None = None
    post_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    client_comment_id: str | None = None
    parent_id: str | None = None
    honeypot: str | None = None
    elapsed_ms: int | None = None
    # The language the CMS says the comment (or its site) is in; used when the text is too short to tell.
    language: str | None = None
    clean_text: str = field(init=False)
    folded_text: str = field(init=False)
    folded_name: str = field(init=False)
    folded_email: str = field(init=False)
    folded_url: str = field(init=False)

    def __post_init__(self) -> None:
        clean_text, folded_text = normalize(self.text)
        object.__setattr__(self, "clean_text", clean_text)
        object.__setattr__(self, "folded_text", folded_text)
        object.__setattr__(self, "folded_name", normalize(self.name)[1])
        object.__setattr__(self, "folded_email", normalize(self.email)[1])
        object.__setattr__(self, "folded_url", normalize(self.url or "")[1])

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2].lower()

    @property
    def text_fingerprint(self) -> str:
        """Hash of the folded text: equal for comments that say the same thing in disguise."""
        return hashlib.sha256(self.folded_text.encode("utf-8")).hexdigest()

    def classifier_record(self) -> PreparedRecord:
        """Return the fields the classifier reads, reusing the normalization already done."""
        return PreparedRecord(self.folded_text, self.clean_text, self.name, self.email, self.url or "")


@dataclass(frozen=True)
class AuthorHistory:
    """What the store knows about the author before this comment."""

    approved: int = 0
    rejected: int = 0
    seconds_since_last: float | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class Signal:
    """One check's finding: a reason code, how severe it is, a commenter-safe message and moderator detail."""

    code: str
    severity: Severity
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


THRESHOLD_HEADS = ("spam", "toxicity")


@dataclass(frozen=True)
class Thresholds:
    """Score cut-offs per head: below `hold` approves, from `reject` on rejects, between holds.

    `sources` says where each value came from when the thresholds were resolved for a model
    (`resolve`): "model" (its manifest), "configuration" (an explicit setting) or "default".
    """

    spam_hold: float = 0.5
    spam_reject: float = 0.9
    toxicity_hold: float = 0.5
    toxicity_reject: float = 0.9
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def hold(self, head: str) -> float:
        return float(getattr(self, f"{head}_hold"))

    def reject(self, head: str) -> float:
        return float(getattr(self, f"{head}_reject"))

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {h: {"hold": self.hold(h), "reject": self.reject(h)} for h in THRESHOLD_HEADS}

    def source(self, head: str, which: str) -> str:
        return dict(self.sources).get(f"{head}_{which}", "default")

    def sources_dict(self) -> dict[str, dict[str, str]]:
        return {h: {w: self.source(h, w) for w in ("hold", "reject")} for h in THRESHOLD_HEADS}

    @classmethod
    def resolve(
        cls, model: Mapping[str, Any] | None, overrides: Mapping[str, float] | None = None
    ) -> Thresholds:
        """The thresholds that apply to a model: an explicit setting, else the model's own, else the default.

        model is the manifest's "thresholds" mapping ({"spam": {"hold": 0.5, "reject": 0.9}, ...});
        overrides maps setting names (spam_hold, ...) to the values the configuration sets.
        """
        defaults = cls()
        values: dict[str, float] = {}
        sources: list[tuple[str, str]] = []
        for head in THRESHOLD_HEADS:
            own = (model or {}).get(head) if isinstance(model, Mapping) else None
            for which in ("hold", "reject"):
                name = f"{head}_{which}"
                value = own.get(which) if isinstance(own, Mapping) else None
                if overrides and name in overrides:
                    values[name], origin = float(overrides[name]), "configuration"
                elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
                    values[name], origin = float(value), "model"
                else:
                    values[name], origin = float(getattr(defaults, name)), "default"
                sources.append((name, origin))
        return cls(**values, sources=tuple(sources))


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    scores: dict[str, float]
    signals: tuple[Signal, ...] = ()

    @property
    def reason(self) -> Reason:
        return self.reasons[0]
