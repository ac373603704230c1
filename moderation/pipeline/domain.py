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
    post_title: str | None = None
    post_url: str | None = None
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
    # Moderators' actions on this author in force now (services.authors): hold every comment, or
    # refuse them until a moment (an ISO 8601 string, so the pipeline needs no clock).
    premoderated: bool = False
    suspended_until: str | None = None


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


# The model's attribute heads beside spam and toxicity (Perspective's names in lower case).
ATTRIBUTE_HEADS = (
    "severe_toxicity",
    "insult",
    "profanity",
    "threat",
    "identity_attack",
    "sexually_explicit",
)


def parse_attribute_thresholds(
    items: tuple[str, ...] | list[str],
) -> dict[str, tuple[float | None, float | None]]:
    """Read ``threat:reject=0.8``-style items into head -> (hold, reject); raise ValueError if malformed."""
    out: dict[str, list[float | None]] = {}
    for item in items:
        head, sep, rest = item.partition(":")
        which, eq, value = rest.partition("=")
        head, which = head.strip().lower(), which.strip().lower()
        if not sep or not eq or head not in ATTRIBUTE_HEADS or which not in ("hold", "reject"):
            raise ValueError(
                f"{item!r}: expected ATTRIBUTE:hold=VALUE or ATTRIBUTE:reject=VALUE with ATTRIBUTE one of "
                + ", ".join(h.upper() for h in ATTRIBUTE_HEADS)
            )
        cut = float(value)
        if not 0.0 <= cut <= 1.0:
            raise ValueError(f"{item!r}: a threshold is between 0 and 1")
        out.setdefault(head, [None, None])[0 if which == "hold" else 1] = cut
    for head, (hold, reject) in out.items():
        if hold is not None and reject is not None and hold > reject:
            raise ValueError(f"{head}: hold {hold} is above reject {reject}")
    return {head: (hold, reject) for head, (hold, reject) in out.items()}


THRESHOLD_HEADS = ("spam", "toxicity")


@dataclass(frozen=True)
class Thresholds:
    """Score cut-offs per head: below `hold` approves, from `reject` on rejects, between holds.

    `sources` says where each value came from when the thresholds were resolved for a model
    (`resolve`): "model" (its manifest), "tuned" (`moderation tune --apply`, the version's
    thresholds.json), "configuration" (an explicit setting) or "default".
    """

    spam_hold: float = 0.5
    spam_reject: float = 0.9
    toxicity_hold: float = 0.5
    toxicity_reject: float = 0.9
    # Attribute heads act only where the configuration sets a cut-off for them: head -> (hold,
    # reject), either may be None ("threat": (None, 0.8) rejects threats from 0.8, never holds).
    attributes: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def hold(self, head: str) -> float:
        return float(getattr(self, f"{head}_hold"))

    def reject(self, head: str) -> float:
        return float(getattr(self, f"{head}_reject"))

    def for_head(self, head: str) -> tuple[float, float]:
        """Hold and reject cut-offs of any head; unset attribute ones read as 0.5 and 0.9 (for reports)."""
        if head in ("spam", "toxicity"):
            return self.hold(head), self.reject(head)
        hold, reject = self.attributes.get(head, (None, None))
        return (0.5 if hold is None else hold), (0.9 if reject is None else reject)

    def as_dict(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {
            h: {"hold": self.hold(h), "reject": self.reject(h)} for h in THRESHOLD_HEADS
        }
        for head, (hold, reject) in sorted(self.attributes.items()):
            out[head] = {k: v for k, v in (("hold", hold), ("reject", reject)) if v is not None}
        return out

    def source(self, head: str, which: str) -> str:
        return dict(self.sources).get(f"{head}_{which}", "default")

    def sources_dict(self) -> dict[str, dict[str, str]]:
        return {h: {w: self.source(h, w) for w in ("hold", "reject")} for h in THRESHOLD_HEADS}

    @classmethod
    def resolve(
        cls,
        model: Mapping[str, Any] | None,
        overrides: Mapping[str, float] | None = None,
        tuned: Mapping[str, Any] | None = None,
    ) -> Thresholds:
        """The thresholds that apply to a model: an explicit setting, else the tuned value, else the
        model's own, else the default.

        model is the manifest's "thresholds" mapping ({"spam": {"hold": 0.5, "reject": 0.9}, ...});
        tuned has the same shape (what `moderation tune --apply` chose for this version, possibly for
        some heads only); overrides maps setting names (spam_hold, ...) to the values the
        configuration sets. The configuration wins so that an operator can always pin a value.
        """
        defaults = cls()
        values: dict[str, float] = {}
        sources: list[tuple[str, str]] = []
        for head in THRESHOLD_HEADS:
            own = _head_mapping(model, head)
            chosen = _head_mapping(tuned, head)
            for which in ("hold", "reject"):
                name = f"{head}_{which}"
                value = own.get(which)
                tuned_value = chosen.get(which)
                if overrides and name in overrides:
                    values[name], origin = float(overrides[name]), "configuration"
                elif _is_cut(tuned_value):
                    values[name], origin = float(tuned_value), "tuned"
                elif _is_cut(value):
                    values[name], origin = float(value), "model"
                else:
                    values[name], origin = float(getattr(defaults, name)), "default"
                sources.append((name, origin))
        return cls(**values, sources=tuple(sources))


def _head_mapping(thresholds: Mapping[str, Any] | None, head: str) -> Mapping[str, Any]:
    own = thresholds.get(head) if isinstance(thresholds, Mapping) else None
    return own if isinstance(own, Mapping) else {}


def _is_cut(value: Any) -> bool:
    """A usable threshold: a number (not a bool) between 0 and 1."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    scores: dict[str, float]
    signals: tuple[Signal, ...] = ()

    @property
    def reason(self) -> Reason:
        return self.reasons[0]
