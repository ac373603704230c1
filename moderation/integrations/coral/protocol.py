"""Coral Talk's external moderation phase: request signatures, and mapping Coral comments and our answers."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from html.parser import HTMLParser
from typing import Any, Iterable, Mapping

from moderation.services.submissions import ModerationService

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
_CORAL_TAG = re.compile(
    r"</?(?:a|b|i|u|s|em|strong|strike|del|p|br|div|span|blockquote|ul|ol|li|code|pre)\b[^>]*>",
    re.IGNORECASE,
)
_BLOCK_TAGS = {"br", "p", "div", "blockquote", "li", "ul", "ol", "pre"}


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


class _TextExtractor(HTMLParser):
    """Collect the text of Coral's HTML comment body, keeping link targets that the text hides."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.parts[start:])
            if href and href not in shown:
                # The links check must see where an anchor points, not only what it says.
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        lines = ("".join(self.parts)).split("\n")
        return "\n".join(line.strip() for line in lines if line.strip())


def body_text(body: str) -> str:
    """Return the comment's text: Coral's plain-text format as is, its HTML format without the markup."""
    if not _CORAL_TAG.search(body):
        return body
    extractor = _TextExtractor()
    extractor.feed(body)
    extractor.close()
    return extractor.text()


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


def edit_service(base: ModerationService) -> ModerationService:
    """Return a service for Coral edits: the same pipeline without the flood and duplicate checks.

    An edit arrives seconds after the comment it changes, from the same author, often with nearly
    the same text; flood and duplicate would reject it for being itself.
    """
    settings = dataclasses.replace(base.settings, flood_seconds=0, duplicate_seconds=0)
    return ModerationService(settings, base.store, base.models)
