"""The moderation domain's small value types: submissions, signals, reasons and decisions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

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


@dataclass(frozen=True)
class Thresholds:
    """Score cut-offs per head: below `hold` approves, from `reject` on rejects, between holds."""

    spam_hold: float = 0.5
    spam_reject: float = 0.9
    toxicity_hold: float = 0.5
    toxicity_reject: float = 0.9

    def hold(self, head: str) -> float:
        return float(getattr(self, f"{head}_hold"))

    def reject(self, head: str) -> float:
        return float(getattr(self, f"{head}_reject"))

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {h: {"hold": self.hold(h), "reject": self.reject(h)} for h in ("spam", "toxicity")}


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    scores: dict[str, float]
    signals: tuple[Signal, ...] = ()

    @property
    def reason(self) -> Reason:
        return self.reasons[0]
