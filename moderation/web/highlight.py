"""Comment text for moderators: escaped first, then evidence terms wrapped in <mark>, links listed as text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

# markupsafe's output holds only these entity forms; matching must never cut through one.
_ENTITY = re.compile(r"(&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);)")
_LINK = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
MIN_TERM_LENGTH = 3
HEAD_CLASSES = {"spam": "spam", "toxicity": "toxic"}
# Invisible characters that reorder the text around them: a right-to-left override can make
# "photo_\u202egnp.exe" read as "photo_exe.png". Shown as visible markers instead (display only).
BIDI_CONTROLS = {
    "\u061c": "ALM",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}
_BIDI = re.compile("[" + "".join(BIDI_CONTROLS) + "]")
SIGNAL_CLASSES = {"blocked_term": "blocked", "watched_term": "watched"}


def evidence_terms(
    evidence: Mapping[str, Any] | None,
    scores: Mapping[str, float] | None = None,
    floors: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """Map each highlightable term (lower case) to the CSS class that says why it matters.

    A head's model terms count only when its score reaches its floor (the hold threshold): the words
    behind a low score would only be noise in front of a moderator.
    """
    terms: dict[str, str] = {}
    evidence = evidence or {}
    scores = scores or {}
    floors = floors or {}
    for code, css in SIGNAL_CLASSES.items():
        for term in (evidence.get("signals") or {}).get(code, {}).get("terms", []) or []:
            if isinstance(term, str) and term.strip():
                terms.setdefault(term.strip().lower(), css)
    for head, css in HEAD_CLASSES.items():
        if float(scores.get(head, 1.0)) < floors.get(head, 0.0):
            continue
        for entry in (evidence.get("terms") or {}).get(head, []) or []:
            # Character n-grams and structural features are not words a moderator can see in the text.
            if not isinstance(entry, Mapping) or entry.get("kind") != "word":
                continue
            term = str(entry.get("term", "")).strip().lower()
            if len(term) >= MIN_TERM_LENGTH:
                terms.setdefault(term, css)
    return terms


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    parts = []
    # Longest first so "free money" wins over "free".
    for term in sorted(set(terms), key=len, reverse=True):
        escaped = str(escape(term))
        if _ENTITY.search(escaped):
            continue  # a term with markup characters could only match across an entity
        parts.append(r"\s+".join(re.escape(word) for word in escaped.split()))
    if not parts:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def highlight(text: str, terms: Mapping[str, str]) -> Markup:
    """Escape text, then wrap whole-word matches of terms in <mark class=...> inside the escaped text."""
    escaped = str(escape(text))
    pattern = _pattern(terms)
    if pattern is None:
        return Markup(escaped)

    def mark(match: re.Match[str]) -> str:
        css = terms.get(" ".join(match.group(1).lower().split()), "term")
        return f'<mark class="{css}">{match.group(1)}</mark>'

    # Odd pieces are entities, left untouched; matches happen only in the text between them.
    pieces = _ENTITY.split(escaped)
    return Markup("".join(p if i % 2 else pattern.sub(mark, p) for i, p in enumerate(pieces)))


def show_bidi_controls(value: object) -> Markup:
    """Escape value (markup such as highlight()'s output stays as it is) and make bidi controls visible.

    Each control becomes a marker like ⟨RLO⟩, so it neither reorders what follows nor hides from the
    moderator that the commenter sent it. The marker is our markup with fixed text, inserted into
    already escaped text, so it can never open a tag.
    """
    escaped = str(escape("" if value is None else value))
    return Markup(
        _BIDI.sub(
            lambda m: f'<span class="bidi-control">\u27e8{BIDI_CONTROLS[m.group(0)]}\u27e9</span>', escaped
        )
    )


def name_bidi_controls(value: object) -> str:
    """Plain text with each bidi control replaced by its marker's text, for attributes (aria-label)."""
    return _BIDI.sub(
        lambda m: f"\u27e8{BIDI_CONTROLS[m.group(0)]}\u27e9", "" if value is None else str(value)
    )


def isolate(value: object) -> Markup:
    """User text for the page: bidi controls made visible, the whole wrapped in <bdi>.

    <bdi> (direction from its own first strong letter) keeps right-to-left text from reordering the
    labels and punctuation around it.
    """
    return Markup("<bdi>") + show_bidi_controls(value) + Markup("</bdi>")


def openable(url: str | None) -> bool:
    """Say whether a URL may get an explicit "open link" control (http and https only)."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def links_in(text: str, limit: int = 5) -> list[str]:
    """Return the first few distinct http(s) links in a comment's text, to show (not follow)."""
    found: list[str] = []
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(".,;:!?)]}")
        if link not in found and openable(link):
            found.append(link)
        if len(found) >= limit:
            break
    return found
