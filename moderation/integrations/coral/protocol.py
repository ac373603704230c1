"""Coral Talk's external moderation phase: request signatures, and mapping Coral comments and our answers."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from datetime import timedelta
from typing import Any, Iterable, Mapping

SIGNATURE_HEADER = "X-Coral-Signature"
ACTIONS = ("NEW", "EDIT")
FLAG_SPAM = "COMMENT_DETECTED_SPAM"
FLAG_TOXIC = "COMMENT_DETECTED_TOXIC"
# Approved comments get no status: Coral then publishes them as it would without us (204, no opinion).
STATUS_BY_OUR_STATUS = {"held": "SYSTEM_WITHHELD", "rejected": "REJECTED"}
# Coral accepts only these two flag reasons from an external phase; any other value makes it
# discard the whole answer, so reasons such as links or watched terms travel as a status only.
FLAG_BY_HEAD = {"spam": FLAG_SPAM, "toxicity": FLAG_TOXIC}
MAX_SIGNATURES = 16

_ID_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# A tag is everything from "<" to the next ">" that holds no other "<": no match can run past the next
# "<", so scanning a body is linear however many unclosed "<a " it holds.
_CORAL_TAG = re.compile(
    r"<(/?)(a|b|i|u|s|em|strong|strike|del|p|br|div|span|blockquote|ul|ol|li|code|pre)\b([^<>]*)>",
    re.IGNORECASE,
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=`]+))""", re.IGNORECASE)
_BLOCK_TAGS = {"br", "p", "div", "blockquote", "li", "ul", "ol", "pre"}
# Coral's editor wraps text in a few tags per line: a body many times longer than the longest text we
# accept is not a comment. Checked before any parsing.
MARKUP_ALLOWANCE = 4
# Anchors do not nest in HTML; deeper "nesting" is an attack on the link bookkeeping, not a comment.
MAX_OPEN_LINKS = 8
# Coral signs the body only, without a time or our key: how long a body stays bound to the first key
# that sent it. Comments purged earlier are forgotten earlier.
REPLAY_WINDOW = timedelta(days=30)


def configured_secrets(value: str) -> tuple[str, ...]:
    """Split the configured signing secrets: one per Coral phase, or old and new while rotating."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def presented_signatures(header: str | None) -> list[str]:
    """Return the sha256 signatures in a Coral signature header (several while a secret rotates)."""
    if not header:
        return []
    found = []
    for element in header.split(",")[:MAX_SIGNATURES]:
        scheme, _, value = element.strip().partition("=")
        if scheme.strip().lower() == "sha256" and value.strip():
            found.append(value.strip().lower())
    return found


def signature_valid(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """Return whether any signature in the header is the HMAC-SHA256 of the raw body under any secret."""
    presented = [s.encode("utf-8", "replace") for s in presented_signatures(header)]
    valid = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().encode("ascii")
        for signature in presented:
            # Compare every pair, so the time taken does not reveal which one matched.
            valid |= hmac.compare_digest(signature, expected)
    return valid


def _href(attributes: str) -> str:
    found = _HREF.search(attributes)
    if not found:
        return ""
    return html.unescape(next(group for group in found.groups() if group is not None))


def body_text(body: str) -> str:
    """Return the comment's text: Coral's plain-text format as is, its HTML format without the markup.

    One pass over the body: the text between Coral's tags (entities decoded), a line break at block
    tags, and the target of a link whose shown text does not contain it, so the links check sees
    where an anchor points, not only what it says. Anything that is not one of Coral's tags stays text.
    """
    if not _CORAL_TAG.search(body):
        return body
    parts: list[str] = []
    open_links: list[tuple[str, int]] = []
    position = 0
    for tag in _CORAL_TAG.finditer(body):
        parts.append(html.unescape(body[position : tag.start()]))
        position = tag.end()
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name in _BLOCK_TAGS:
            parts.append("\n")
        if name != "a":
            continue
        if not closing:
            if len(open_links) < MAX_OPEN_LINKS:
                open_links.append((_href(tag.group(3)), len(parts)))
        elif open_links:
            href, start = open_links.pop()
            if href and href not in "".join(parts[start:]):
                parts.append(f" ({href})")
    parts.append(html.unescape(body[position:]))
    lines = "".join(parts).split("\n")
    return "\n".join(line.strip() for line in lines if line.strip())


def _id_part(value: str, prefix: str, size: int) -> str:
    """Return value if it is safe in an address, else a stable hash of it."""
    if _ID_PART.fullmatch(value) and len(value) <= size:
        return value
    return prefix + hashlib.sha256(value.encode("utf-8")).hexdigest()[: size - len(prefix)]


def author_address(author_id: str, tenant_id: str | None) -> str:
    """Return a stable, undeliverable address standing for a Coral user of one Coral tenant.

    Coral does not send the commenter's email; author history (trust, flooding, duplicates, block
    lists) is keyed by address, so each Coral user gets one under the reserved `.invalid` domain.
    """
    local = _id_part(author_id, "u", 64)
    domain = "coral.invalid" if not tenant_id else f"{_id_part(tenant_id, 't', 63)}.coral.invalid"
    return f"{local}@{domain}"


def comment_key(request: Mapping[str, Any]) -> str:
    """Return our client_comment_id for a Coral comment: a digest of where it is and what it says.

    Coral sends no comment id (the comment is not stored yet), so a retry of the same request, or an
    edit that leaves the text unchanged, maps to the same key and gets the stored answer, while an
    edit that changes the text is a new key and is moderated afresh.
    """
    comment, author = request["comment"], request["author"]
    where = [
        request.get("tenant_id") or "",
        request.get("site_id") or "",
        request["story"]["id"],
        author["id"],
        comment.get("parentID") or "",
        comment["body"],
    ]
    digest = hashlib.sha256(json.dumps(where, ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"coral-{digest[:40]}"


def submission_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """Map a validated Coral request to the fields of our submission (still to be validated as such)."""
    comment, author, story = request["comment"], request["author"], request["story"]
    email = author.get("email") or author_address(author["id"], request.get("tenant_id"))
    fields: dict[str, Any] = {
        "name": (author.get("username") or author["id"])[:100],
        "email": email,
        "text": body_text(comment["body"]),
        "post_id": story["id"],
        "client_comment_id": comment_key(request),
    }
    if story.get("url"):
        fields["referrer"] = story["url"]
    if comment.get("parentID"):
        fields["parent_id"] = comment["parentID"]
    return fields


def phase_result(status: str, reasons: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Return Coral's answer for a stored comment: None for no opinion, else its status and flags."""
    coral_status = STATUS_BY_OUR_STATUS.get(status)
    if coral_status is None:
        return None
    flags: list[str] = []
    for reason in reasons:
        code = reason.get("code")
        heads = (reason.get("detail") or {}).get("heads", []) if code == "uncertain" else [code]
        for head in heads:
            flag = FLAG_BY_HEAD.get(head)
            if flag and flag not in flags:
                flags.append(flag)
    result: dict[str, Any] = {"status": coral_status}
    if flags:
        result["actions"] = [{"actionType": "FLAG", "reason": flag} for flag in flags]
    return result
