"""The moderation service: one submission in, one stored decision out."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from moderation.classifier.bundle import ModelBundle, ModelError, ModelHolder
from moderation.config import Settings
from moderation.pipeline.checks import AuthorBlockList, CheckRules, TermMatcher, run_checks
from moderation.pipeline.domain import (
    Severity,
    Signal,
    Submission,
    Thresholds,
    parse_attribute_thresholds,
)
from moderation.pipeline.language import identify, normalize_code
from moderation.pipeline.policy import decide
from moderation.services.blocklists import BlockLists
from moderation.store.repository import NewComment, Principal, Store, utcnow
from moderation.store.tables import Comment

log = logging.getLogger(__name__)

FEEDBACK_LABELS = ("spam", "toxic", "ham")
LANGUAGE_HELD = "Your comment is awaiting a moderator who reads its language."
LANGUAGE_APPROVED = "Your comment has been published."


def comment_language(text: str, declared: str | None) -> str | None:
    """The comment's language: identified in its text when confident, else the one the CMS declared."""
    detected = identify(text).language
    if detected is None and declared:
        return normalize_code(declared) or None
    return detected


def language_signal(language: str | None, policy: str) -> Signal | None:
    """The signal the unsupported-language policy adds: hold for a reader, or approve unscored."""
    from moderation.pipeline.language import SUPPORTED_LANGUAGES

    if language is None or language in SUPPORTED_LANGUAGES or policy == "score":
        return None
    detail = {"language": language}
    if policy == "approve":
        return Signal("language", Severity.TRUST, LANGUAGE_APPROVED, detail)
    return Signal("language", Severity.HOLD, LANGUAGE_HELD, detail)


def rules_from(settings: Settings) -> CheckRules:
    return CheckRules(
        blocked_terms=TermMatcher(settings.blocked_terms),
        watched_terms=TermMatcher(settings.watched_terms),
        blocked_authors=AuthorBlockList(settings.blocked_authors),
        max_links=settings.max_links,
        flood_seconds=settings.flood_seconds,
        min_elapsed_ms=settings.min_elapsed_ms,
        trusted_after=settings.trusted_after,
        hold_new_authors=settings.hold_new_authors,
    )


def thresholds_from(settings: Settings, bundle: ModelBundle | None = None) -> Thresholds:
    """The thresholds that apply to bundle: the configuration's explicit ones, else the ones tuned for
    it (`moderation tune --apply`), else the model's own."""
    resolved = Thresholds.resolve(
        bundle.thresholds if bundle is not None else None,
        settings.threshold_overrides(),
        bundle.tuned_thresholds if bundle is not None else None,
    )
    # Attribute cut-offs come from the configuration only: a model's attributes decide nothing
    # unless the operator asks them to.
    return dataclasses.replace(resolved, attributes=parse_attribute_thresholds(settings.attribute_thresholds))


@dataclass(frozen=True)
class Submitted:
    """What submit did: the comment (stored now, or before under the same client id), whether it is
    new, and the seconds the decision took."""

    comment: Comment
    created: bool
    seconds: float


class ModerationService:
    """Runs normalize, checks, classifier and policy on a submission and stores the result.

    on_stored, when given, is called with each newly stored comment and the seconds its decision
    took (the app passes the metrics' recorder): every way in (the API, Akismet, Coral) goes
    through submit, so decisions are counted in this one place.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        models: ModelHolder,
        on_stored: Callable[[Comment, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.models = models
        self.on_stored = on_stored
        self.blocklists = BlockLists(store, rules_from(settings))
        self._thresholds: tuple[ModelBundle, Thresholds] | None = None
        self._shadow_thresholds: tuple[ModelBundle, Thresholds] | None = None

    def thresholds_for(self, bundle: ModelBundle) -> Thresholds:
        """The thresholds to decide with for this model version (cached per loaded bundle)."""
        cached = self._thresholds
        if cached is not None and cached[0] is bundle:
            return cached[1]
        resolved = thresholds_from(self.settings, bundle)
        self._thresholds = (bundle, resolved)
        return resolved

    def shadow_thresholds_for(self, bundle: ModelBundle) -> Thresholds:
        """As thresholds_for, for the shadow candidate: its own cache, so the two never evict each
        other. The configuration's explicit thresholds apply to both, as they would after promotion."""
        cached = self._shadow_thresholds
        if cached is not None and cached[0] is bundle:
            return cached[1]
        resolved = thresholds_from(self.settings, bundle)
        self._shadow_thresholds = (bundle, resolved)
        return resolved

    def shadow_verdict(
        self, live: ModelBundle, record: Any, signals: list[Signal], scored: bool
    ) -> dict[str, Any] | None:
        """What the shadow candidate would decide on this comment, or None when no shadow runs.

        The same checks' signals, the candidate's scores (no explanation: it is never shown to the
        commenter) and the candidate's own thresholds. Any failure is logged and gives None: the
        shadow never fails or changes the request.
        """
        try:
            candidate = self.models.shadow()
            if candidate is None or candidate.version == live.version:
                return None
            started = time.perf_counter()
            scores = candidate.score(record)
            decision = decide(signals, scores if scored else {}, self.shadow_thresholds_for(candidate))
            return {
                "version": candidate.version,
                "decision": decision.outcome.value,
                "reason_code": decision.reason.code,
                "reasons": [{"code": r.code, "detail": r.detail} for r in decision.reasons],
                "scores": {head: round(value, 4) for head, value in scores.items()},
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except Exception:  # noqa: BLE001 - shadow scoring must never fail a submission
            log.exception("shadow scoring failed; the comment is stored without a shadow verdict")
            return None

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds that apply to the model serving now."""
        return self.thresholds_for(self.models.get())

    def serving_thresholds(self) -> Thresholds:
        """As `thresholds`, or the configuration's alone (over the defaults) when no model loads."""
        try:
            return self.thresholds
        except ModelError:
            return thresholds_from(self.settings)

    def submit(self, principal: Principal, fields: dict[str, Any], edit: bool = False) -> Submitted:
        """Decide on a new comment and commit it before returning; a replay returns the stored one.

        edit: the comment replaces one the same author just sent (Coral's edits), so the flood and
        duplicate checks, which would find the comment it replaces, are left out.
        """
        started = time.perf_counter()
        client_comment_id = fields.get("client_comment_id")
        # A replay is found when its insert hits the unique constraint: checking first would cost
        # every request a query to save work on the rare retry.
        submission = Submission(**fields)
        now = utcnow()
        history = self.store.author_history(
            submission.email,
            submission.ip,
            submission.text_fingerprint,
            now,
            0 if edit else self.settings.duplicate_seconds,
            principal.site,
        )
        rules = self.blocklists.rules()
        if edit:
            rules = dataclasses.replace(rules, flood_seconds=0)
        signals = run_checks(submission, history, rules)
        language = comment_language(submission.text, submission.language)
        unsupported = language_signal(language, self.settings.unsupported_language)
        bundle = self.models.get()
        record = submission.classifier_record()
        analysis = bundle.analyze(record)
        scores = analysis.scores
        if unsupported is None:
            decision = decide(signals, scores, self.thresholds_for(bundle))
        else:
            # The model knows English only: its scores of this text are kept for moderators, not used.
            signals = [*signals, unsupported]
            decision = decide(signals, {}, self.thresholds_for(bundle))
        evidence: dict[str, Any] = {
            "signals": {s.code: s.detail for s in signals if s.detail},
        }
        if decision.outcome.value != "approve":
            # Moderators review held and rejected comments; explaining approvals costs time for nothing.
            evidence["terms"] = analysis.explain()
        shadow = self.shadow_verdict(bundle, record, signals, unsupported is None)
        stored, created = self.store.add_comment(
            NewComment(
                key_id=principal.key_id,
                client_comment_id=client_comment_id,
                submission=submission,
                decision=decision,
                signals=signals,
                scores=scores,
                evidence=evidence,
                model_version=bundle.version,
                language=language,
                shadow=shadow,
                received_at=now,
            )
        )
        seconds = time.perf_counter() - started
        if created and self.on_stored is not None:
            self.on_stored(stored, seconds)
        return Submitted(stored, created, seconds)

    def visible_to(self, principal: Principal, comment_id: str) -> Comment | None:
        """Return the comment if this principal may see it: its own client, or a moderator."""
        comment = self.store.get_comment(comment_id)
        if comment is None:
            return None
        if principal.has("moderator") or comment.client_key_id == principal.key_id:
            return comment
        return None

    def feedback(self, principal: Principal, comment: Comment, label: str) -> Any:
        """Store the CMS's own verdict on a comment as a training label.

        Trusted: visible_to let only the comment's own client (or a moderator) this far.
        """
        return self.store.add_label(comment, label, "cms_feedback", principal.key_id)
