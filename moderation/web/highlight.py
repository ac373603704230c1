"""Comment text for moderators: evidence terms found in the text as written (disguises included),
every piece escaped and the terms wrapped in <mark>; links listed as text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from moderation.pipeline.normalize import clean, compact, fold, fold_term

_LINK = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
MIN_TERM_LENGTH = 3
# A model term is marked only when it weighs at least this share of its head's strongest term.
MIN_SHARE = 0.1
HEAD_CLASSES = {"spam": "spam", "toxicity": "toxic"}
# What each highlight means, in the legend and on every mark (its title and text for screen readers).
MARK_NAMES = {
    "blocked": "blocked term",
    "watched": "watched term",
    "toxic": "toxicity evidence",
    "spam": "spam evidence",
}
# Words that carry grammar rather than meaning (our own list): the model may weigh "the" or "is a",
# but a moderator learns nothing from seeing them marked. An n-gram of only these is never shown, and
# one that starts or ends with them is shown without them ("the idiot" marks "idiot").
FUNCTION_WORDS = frozenset(
    """
    a an the this that these those some any each every all both either neither no none another other
    such what which who whom whose whatever whichever when where why how whether if then than as
    and or but nor so yet because since though although while unless until till
    of in on at to for from by with without within into onto upon about above below over under
    between among through during before after against around near off out up down via per like
    i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves one ones
    is am are was were be been being do does did doing done have has had having
    will would shall should can could may might must ought
    not very too also just only even still already again ever never here there now
    s t d ll m o re ve y isn aren wasn weren don doesn didn hasn haven hadn won wouldn can't cannot
    """.split()
)
SIGNAL_CLASSES = {"blocked_term": "blocked", "watched_term": "watched"}
# Text between whitespace; a term of several words, or spelled out ("f u c k"), spans several.
_CHUNK = re.compile(r"\S+")
# A piece of a chunk starts and ends with a run of word-like characters (letters, digits and the
# symbols that stand in for letters).
_RUN = re.compile(r"[\w@$€]+")
# A piece spans at most this many runs ("c-e-a-s-e-f-i-r-e" is found as its whole chunk), and only
# one in a chunk of more than MAX_CHUNK_RUNS (so a long punctuated string costs little to search).
MAX_RUNS = 12
MAX_CHUNK_RUNS = 64
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
        # Character n-grams and structural features are not words a moderator can see in the
        # text; the words of our lists behind a structural feature ("listed") are. A word that
        # weighs less than a tenth of the strongest such word explains little of the score.
        entries = [
            e
            for e in (evidence.get("terms") or {}).get(head, []) or []
            if isinstance(e, Mapping) and e.get("kind") in ("word", "listed")
        ]
        strongest = max((_weight(e) for e in entries), default=0.0)
        for entry in entries:
            if _weight(entry) < MIN_SHARE * strongest:
                continue
            term = content_words(str(entry.get("term", "")))
            if len(term) >= MIN_TERM_LENGTH:
                terms.setdefault(term, css)
    return terms


def _weight(entry: Mapping[str, Any]) -> float:
    try:
        return float(entry.get("weight", 0.0))
    except (TypeError, ValueError):
        return 0.0


def content_words(term: str) -> str:
    """The term (lower case) without the function words at its ends; "" if it has only those."""
    words = term.lower().split()
    while words and words[0] in FUNCTION_WORDS:
        words.pop(0)
    while words and words[-1] in FUNCTION_WORDS:
        words.pop()
    return " ".join(words)


def _key(piece: str) -> str:
    """A piece of text as the checks and the model read it: cleaned and folded, with no space or
    punctuation at its ends ("C3asefire!" -> "ceasefire")."""
    # Short pieces recur (letters, words); long ones are cached nowhere, so the cache stays small.
    return _short_key(piece) if len(piece) <= 64 else _fold_key(piece)


def _fold_key(piece: str) -> str:
    return fold(clean(piece)).strip(" !|+.,;:?'\"()[]{}<>*~-_/\\")


_short_key = lru_cache(maxsize=8192)(_fold_key)


def _pieces(text: str, start: int, end: int, may_start: Callable[[int], bool]) -> list[tuple[int, int]]:
    """The spans of a whitespace-free chunk that a whole-word match may cover, longest first: the
    chunk itself, then each stretch from the start of one run of word-like characters to the end of
    the same or a later one ("(c3asefire-now)" offers "c3asefire", "sh!t" itself), starting where
    may_start allows. In a chunk of very many runs (a hostile string) a stretch is one run."""
    runs = [(m.start(), m.end()) for m in _RUN.finditer(text, start, end)]
    reach = MAX_RUNS if len(runs) <= MAX_CHUNK_RUNS else 1
    spans = {(start, end)}
    spans |= {(a, b) for i, (a, _) in enumerate(runs) if may_start(a) for _, b in runs[i : i + reach]}
    return sorted(spans, key=lambda span: span[0] - span[1])


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop the characters at the ends of a span that do not change what it reads as."""
    key = _key(text[start:end])
    while end - start > 1 and _key(text[start + 1 : end]) == key:
        start += 1
    while end - start > 1 and _key(text[start : end - 1]) == key:
        end -= 1
    return start, end


def find_terms(text: str, terms: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """Where the terms are in the text as written: (start, end, css) spans, in order, not overlapping.

    The text is read the way the checks and the model read it (``normalize.fold``), span by span, so
    a disguised spelling is found where it stands: "c3asefire" for ceasefire, "f u c k" spaced out,
    "cas-ino" and "caaasino" (blocked and watched terms are matched in the compact form, as the term
    check does), "fr33  m0ney" for a two-word term. Matches are whole words, longest first.
    """
    wanted: dict[str, str] = {}
    compact_wanted: dict[str, str] = {}
    for term, css in terms.items():
        key = " ".join(fold_term(term).split())
        if len(key.replace(" ", "")) < 2:
            continue
        wanted.setdefault(key, css)
        if css in SIGNAL_CLASSES.values():
            compact_wanted.setdefault(compact(key), css)
    if not wanted:
        return []

    def css_of(key: str) -> str | None:
        return wanted.get(key) or compact_wanted.get(compact(key))

    every = (*wanted, *compact_wanted)
    firsts = {key[0] for key in every}
    # Widths in chunks: of the terms with several words, and of the terms spelled out letter by letter.
    word_counts = sorted({len(key.split()) for key in wanted} - {1}, reverse=True)
    letter_counts = sorted({len(key.replace(" ", "")) for key in every}, reverse=True)

    def may_start(folded: str) -> bool:
        # Cheap test first: a match starts with a term's first letter, or a digit or symbol for one.
        return bool(folded) and (folded[0] in firsts or not folded[0].isalpha())

    chunks = [(m.start(), m.end()) for m in _CHUNK.finditer(text)]
    keys = [_key(text[a:b]) for a, b in chunks]
    # How many single letters follow from each chunk on ("f", "u", "c", "k").
    spelled = [0] * (len(chunks) + 1)
    for i in range(len(chunks) - 1, -1, -1):
        spelled[i] = spelled[i + 1] + 1 if len(keys[i]) == 1 else 0
    found: list[tuple[int, int, str]] = []
    for i, (start, end) in enumerate(chunks):
        if may_start(keys[i]):
            for width in (w for w in word_counts if i + w <= len(chunks)):
                if css := css_of(" ".join(keys[i : i + width])):
                    found.append((*_trimmed(text, start, chunks[i + width - 1][1]), css))
                    break
            for width in (w for w in letter_counts if 1 < w <= spelled[i]):
                joined = _key(" ".join(text[a:b] for a, b in chunks[i : i + width])).replace(" ", "")
                if css := css_of(joined):
                    found.append((*_trimmed(text, start, chunks[i + width - 1][1]), css))
                    break
        # Every match in the chunk ("alert(1)</script>alert" has two); overlaps are settled below.
        for a, b in _pieces(text, start, end, lambda at: may_start(_key(text[at : at + 1]))):
            if css := css_of(_key(text[a:b])):
                found.append((*_trimmed(text, a, b), css))
    chosen: list[tuple[int, int, str]] = []
    for span in sorted(found, key=lambda s: (s[0], s[0] - s[1])):
        if not chosen or span[0] >= chosen[-1][1]:
            chosen.append(span)
    return chosen


def highlight(text: str, terms: Mapping[str, str]) -> Markup:
    """Escape text and wrap each term found in it (see find_terms) in <mark>, named for what it is.

    Every piece of the commenter's text is escaped on its own; the marks are ours, with fixed text.
    Each mark says what it means in words too (a title and text for screen readers), not by its
    colour alone.
    """
    out: list[str] = []
    at = 0
    for start, end, css in find_terms(text, terms):
        name = MARK_NAMES.get(css, "evidence")
        out.append(str(escape(text[at:start])))
        out.append(
            f'<mark class="{css}" title="{name}">{escape(text[start:end])}'
            f'<span class="visually-hidden"> ({name})</span></mark>'
        )
        at = end
    out.append(str(escape(text[at:])))
    return Markup("".join(out))


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
