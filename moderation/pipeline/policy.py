"""The decision policy: a pure function from signals and scores to one outcome and ordered reasons."""

from __future__ import annotations

from typing import Iterable, Mapping

from moderation.pipeline.domain import Decision, Outcome, Reason, Severity, Signal, Thresholds

SCORE_REASONS = {
    "spam": Reason("spam", "Your comment looks like spam and was not published."),
    "toxicity": Reason(
        "toxicity", "Your comment was not published because it breaks our community guidelines."
    ),
}
UNCERTAIN = "Your comment is awaiting moderation."
CLEAN = Reason("clean", "Your comment has been published.")

# Which reason leads when several apply; the first reason is the one the CMS acts on.
_REJECT_ORDER = (
    "honeypot",
    "blocked_author",
    "suspended_author",
    "blocked_term",
    "duplicate",
    "flood",
    "spam",
    "toxicity",
)
_HOLD_ORDER = (
    "premoderated_author",
    "watched_term",
    "links",
    "too_fast",
    "new_author",
    "language",
    "uncertain",
)


def _rank(code: str, order: tuple[str, ...]) -> int:
    return order.index(code) if code in order else len(order)


def _from_signal(signal: Signal) -> Reason:
    return Reason(signal.code, signal.message, signal.detail)


def decide(signals: Iterable[Signal], scores: Mapping[str, float], thresholds: Thresholds) -> Decision:
    """Combine check signals and classifier scores into exactly one decision with ordered reasons."""
    signals = tuple(signals)
    scores = {head: float(value) for head, value in scores.items()}
    rejects = [_from_signal(s) for s in signals if s.severity is Severity.REJECT]
    holds = [_from_signal(s) for s in signals if s.severity is Severity.HOLD]
    trust = [_from_signal(s) for s in signals if s.severity is Severity.TRUST]
    uncertain_heads: list[str] = []
    for head in ("spam", "toxicity"):
        if head not in scores:
            continue
        value = scores[head]
        if value >= thresholds.reject(head):
            rejects.append(Reason(head, SCORE_REASONS[head].message, {"score": round(value, 4)}))
        elif value >= thresholds.hold(head):
            uncertain_heads.append(head)
    # An attribute with a configured cut-off rejects or holds on its own, as a toxicity reason whose
    # detail names the attribute (Perspective's upper-case name), so the CMS acts as on toxicity.
    attribute_holds: list[str] = []
    for head, (hold, reject) in sorted(thresholds.attributes.items()):
        if head not in scores:
            continue
        value = scores[head]
        if reject is not None and value >= reject:
            detail = {"score": round(value, 4), "attribute": head.upper()}
            rejects.append(Reason("toxicity", SCORE_REASONS["toxicity"].message, detail))
        elif hold is not None and value >= hold:
            attribute_holds.append(head.upper())

    if rejects:
        rejects.sort(key=lambda r: _rank(r.code, _REJECT_ORDER))
        return Decision(Outcome.REJECT, tuple(rejects + holds), scores, signals)

    uncertain = []
    if uncertain_heads or attribute_holds:
        detail: dict[str, object] = {"heads": uncertain_heads}
        if attribute_holds:
            detail["attributes"] = attribute_holds
        uncertain = [Reason("uncertain", UNCERTAIN, detail)]
    if holds:
        reasons = sorted(holds + uncertain, key=lambda r: _rank(r.code, _HOLD_ORDER))
        return Decision(Outcome.HOLD, tuple(reasons), scores, signals)
    if uncertain and not trust:
        return Decision(Outcome.HOLD, tuple(uncertain), scores, signals)
    if trust:
        # A trusted author gets the benefit of the doubt on borderline scores only.
        return Decision(Outcome.APPROVE, tuple(trust + uncertain), scores, signals)
    return Decision(Outcome.APPROVE, (CLEAN,), scores, signals)
