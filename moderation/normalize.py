"""Text normalization, done once per submission before checks and the classifier."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Format characters that render as nothing and are used to split words past filters.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
        "\u2069\u3164\ufeff\uffa0",
    ),
    None,
)

# Letters from other scripts that look like Latin ones, folded for matching only.
_LOOKALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i",
        "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "ѕ": "s", "т": "t",
        "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ı": "i", "ℓ": "l",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ѵ": "v", "ß": "ss",
    }
)  # fmt: skip

# Digits and symbols standing in for letters inside words ("sh1t", "fr€€", "$pam").
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"}
)  # fmt: skip

_ASCII_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")
_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[\w@$!|€+]+")
_LETTER = re.compile(r"[^\W\d_]")
# Runs of three or more single letters separated by one space or dot: "f u c k", "s.p.a.m".
_SPACED_LETTERS = re.compile(r"(?<!\w)(?:[^\W\d_][ .]){2,}[^\W\d_](?!\w)")
_REPEATS = re.compile(r"(.)\1{2,}")


def clean(text: str) -> str:
    """Return text in NFKC form without invisible or control characters and with whitespace collapsed."""
    if text.isascii():
        # Most comments. NFKC leaves ASCII alone, and its only characters to drop or replace are the
        # C0 controls and DEL, which become spaces: the same result as clean_unicode, faster.
        return _WHITESPACE.sub(" ", text.translate(_ASCII_CONTROLS)).strip()
    return clean_unicode(text)


def clean_unicode(text: str) -> str:
    """The general path of clean, for any text."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cf", "Cs", "Co", "Cn")
    )
    return _WHITESPACE.sub(" ", text).strip()


def _strip_marks(text: str) -> str:
    if text.isascii():
        return text  # nothing to decompose
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _fold_token(match: re.Match[str]) -> str:
    token = match.group(0)
    # Only tokens that contain a letter are words in disguise; "2024" and "$40" stay numbers,
    # and trailing punctuation ("wow!!!") stays punctuation.
    core = token.rstrip("!|+")
    if _LETTER.search(core) and not core.isalpha():
        return core.translate(_LEET) + token[len(core) :]
    return token


def fold(cleaned: str) -> str:
    """Fold cleaned text for matching: lower case, no accents, look-alike letters and l33t undone."""
    text = _strip_marks(cleaned.casefold()).translate(_LOOKALIKES)
    text = _TOKEN.sub(_fold_token, text)
    text = _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", "").replace(".", ""), text)
    return _REPEATS.sub(r"\1\1", text)


@lru_cache(maxsize=4096)
def fold_term(term: str) -> str:
    """Fold a configured term exactly as submission text is folded."""
    return fold(clean(term))


def normalize(text: str) -> tuple[str, str]:
    """Return (cleaned, folded) forms of text."""
    cleaned = clean(text)
    return cleaned, fold(cleaned)
