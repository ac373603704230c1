"""Akismet's form protocol: its fields as our submission, our decisions as its answers, reports as labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from marshmallow import ValidationError, validate

from moderation.pipeline.domain import Submission
from moderation.store.repository import Principal, Store
from moderation.store.tables import Comment, Label

FEEDBACK_THANKS = "Thanks for making the web a better place."
FEEDBACK_SOURCE = "cms_feedback"  # the same source as /v1/comments/{id}/feedback: one kind of verdict
ANONYMOUS_NAME = "Anonymous"
# RFC 2606 reserves .invalid: a placeholder address can never be mistaken for, or reach, a real mailbox.
PLACEHOLDER_DOMAIN = "akismet.invalid"
# Rejects that are certain enough for the CMS to drop the comment without showing it to anyone.
# Duplicates and floods are left out: a real reader who double-posts should still find the comment.
DISCARD_REASONS = frozenset({"spam", "toxicity", "honeypot", "blocked_term", "blocked_author"})
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
KEY_HELP = "Unknown, revoked or non-client API key: send a client key (mk_...) as api_key or a Bearer token."

# Where each submission field comes from, to name a problem in the caller's own terms.
AKISMET_NAMES = {
    "name": "comment_author",
    "email": "comment_author_email",
    "text": "comment_content",
    "url": "comment_author_url",
    "ip": "user_ip",
    "user_agent": "user_agent",
    "referrer": "referrer",
    "post_id": "permalink",
    "post_url": "permalink",
    "parent_id": "comment_parent",
    "client_comment_id": "comment_date_gmt",
}
_MAX_DEBUG_HELP = 500
# The rule POST /v1/comments applies to post_url, so a permalink kept here always validates there.
_WEB_ADDRESS = validate.URL(schemes={"http", "https"}, require_tld=False)


@dataclass(frozen=True)
class CheckAnswer:
    """What comment-check sends back: the plain-text body and the response headers."""

    body: str
    headers: dict[str, str] = field(default_factory=dict)


def _field(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def is_test(form: Mapping[str, str]) -> bool:
    """Tell whether the caller flagged the request as a test (`is_test=1`)."""
    return _field(form, "is_test").lower() in TRUE_VALUES


def placeholder_email(name: str, ip: str) -> str:
    """Return a stable stand-in address for an author who gave none, distinct per name and IP."""
    digest = hashlib.sha256(f"{name.casefold()}\x1f{ip}".encode()).hexdigest()[:16]
    return f"anonymous-{digest}@{PLACEHOLDER_DOMAIN}"


def _idempotency_key(form: Mapping[str, str], name: str, email: str) -> str | None:
    """Derive a client comment id when the comment's own timestamp makes a re-check recognisable."""
    posted = _field(form, "comment_date_gmt")
    if not posted:
        return None
    parts = (
        _field(form, "blog"),
        _field(form, "permalink"),
        name,
        email.lower(),
        form.get("comment_content") or "",
        posted,
    )
    return "akismet-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def submission_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """Map Akismet's form fields onto the input of POST /v1/comments, before validation.

    Context fields (user agent, referrer, honeypot value, permalink) are cut to our column sizes
    rather than refused: Akismet accepts them at any length, and of a honeypot only emptiness counts.
    """
    name = _field(form, "comment_author") or ANONYMOUS_NAME
    ip = _field(form, "user_ip")
    email = _field(form, "comment_author_email") or placeholder_email(name, ip)
    fields: dict[str, Any] = {"name": name, "email": email}
    if "comment_content" in form:
        fields["text"] = form["comment_content"]
    url = _field(form, "comment_author_url")
    if url and "://" not in url:
        url = "http://" + url  # as WordPress stores a bare "example.org"
    fields["url"] = url or None
    fields["ip"] = ip or None
    fields["user_agent"] = (form.get("user_agent") or "")[:1000] or None
    fields["referrer"] = (form.get("referrer") or "")[:2048] or None
    fields["post_id"] = (_field(form, "permalink") or _field(form, "blog"))[:200] or None
    fields["post_url"] = post_address(_field(form, "permalink"))
    parent = _field(form, "comment_parent")
    fields["parent_id"] = None if parent in ("", "0") else parent  # WordPress sends 0 for top level
    honeypot_name = _field(form, "honeypot_field_name")
    honeypot = (form.get(honeypot_name) or "") if honeypot_name else ""
    fields["honeypot"] = honeypot[:1000] or None
    fields["client_comment_id"] = _idempotency_key(form, name, email)
    fields["language"] = site_language(form.get("blog_lang") or "")
    return fields


def post_address(permalink: str) -> str | None:
    """The permalink as the post's address for moderators, or None when it is not one to link to.

    Akismet accepts any permalink; a cut or non-web one would be a broken or unsafe link, so it is
    dropped (the post id still keeps it) rather than making the whole check invalid.
    """
    if not permalink or len(permalink) > 2048:
        return None
    try:
        return _WEB_ADDRESS(permalink)
    except ValidationError:
        return None


def site_language(blog_lang: str) -> str | None:
    """The one language a site writes in, from Akismet's `blog_lang` ("en", "fr_ca", "en, fr").

    A site of several languages names none: its short comments may be in any of them.
    """
    languages = {part.strip().replace("_", "-").split("-")[0].lower() for part in blog_lang.split(",")}
    languages.discard("")
    if len(languages) != 1:
        return None
    language = languages.pop()
    return language if language.isalpha() and 2 <= len(language) <= 3 else None


def _header_safe(text: str) -> str:
    """Keep printable ASCII only: a header value must not carry newlines or undecodable bytes."""
    cleaned = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return cleaned[:_MAX_DEBUG_HELP]


def describe_problems(errors: Mapping[str, Any], form: Mapping[str, str]) -> str:
    """Name every invalid field by its Akismet name, with our reason, on one line."""
    names = dict(AKISMET_NAMES, honeypot=_field(form, "honeypot_field_name") or "honeypot_field_name")
    parts = []
    for key in sorted(errors):
        messages = errors[key]
        text = " ".join(messages) if isinstance(messages, list) else str(messages)
        if key == "post_id" and not _field(form, "permalink"):
            source = "blog"
        else:
            source = names.get(key, key)
        parts.append(f"{source}: {text}")
    return _header_safe("Invalid request: " + "; ".join(parts))


def invalid_answer(problem: str) -> CheckAnswer:
    """Answer a request Akismet-style: body `invalid` and the reason in X-akismet-debug-help."""
    return CheckAnswer("invalid", {"X-akismet-debug-help": _header_safe(problem)})


def check_answer(comment: Comment) -> CheckAnswer:
    """Translate a stored decision into comment-check's answer.

    The protocol has two values and `false` means publish, so a held comment answers `true`
    (the CMS keeps it unpublished for its moderators) without the discard tip; only a reject we
    are sure about carries `X-akismet-pro-tip: discard`.
    """
    headers = {
        "X-Moderation-Decision": comment.decision,
        "X-Moderation-Reason": comment.reason_code,
        "X-Moderation-Comment-Id": comment.id,
        "X-akismet-guid": comment.id,
    }
    if comment.decision == "approve":
        return CheckAnswer("false", headers)
    if comment.decision == "reject" and comment.reason_code in DISCARD_REASONS:
        headers["X-akismet-pro-tip"] = "discard"
    return CheckAnswer("true", headers)


def record_feedback(
    store: Store, principal: Principal, fields: Mapping[str, Any], label: str, unverified_cap: int
) -> Label | None:
    """Store a submit-spam / submit-ham report as a training label on the matching comment, if any.

    The match is this client's most recent comment with the same author email and the same text
    (compared after normalization, as the duplicate check does): a verdict on the client's own
    comment, trusted. Without one the text is kept alone as an unverified report, which training
    uses only once a moderator confirms it (or the operator opts in for this key), and only up to
    unverified_cap a day per key; past it nothing is stored and None is returned.
    """
    submission = Submission(name=fields["name"], email=fields["email"], text=fields["text"])
    return store.label_latest_match(
        principal.key_id,
        submission.email.lower(),
        submission.text_fingerprint,
        submission.text,
        submission.name,
        label,
        FEEDBACK_SOURCE,
        unverified_cap,
    )
