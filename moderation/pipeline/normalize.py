"""Text normalization, done once per submission before checks and the classifier.

``clean`` keeps what the commenter wrote, minus invisible and control characters. ``fold`` is the
one normalizer for disguises, read by the classifier, the term checks and every other matcher:
lower case, accents stripped, look-alike letters replaced by the Latin letter they imitate (the
Unicode Consortium's UTS #39 confusables data, shipped by ``confusable-homoglyphs``, plus the
Latin small capitals by their Unicode names), digits and symbols standing in for letters inside
words undone (l33t), letters spaced or separated out ("f u c k", "i-d-i-o-t", "c_a_s_i_n_o")
joined, and long runs of one letter shortened.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources

# Format characters and blank glyphs that render as nothing (or as a space that is not one) and are
# used to split words past filters; the braille blank is a symbol, not a space, so NFKC keeps it.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
        "\u2069\u2800\u3164\ufeff\uffa0",
    ),
    None,
)

# Scripts whose letters are used to imitate Latin ones. Letters of other scripts (Arabic, Hebrew,
# CJK, Indic…) are left alone: mapping them to Latin would turn real words into noise.
_IMITATING_SCRIPTS = frozenset(
    "LATIN CYRILLIC GREEK CHEROKEE COPTIC ARMENIAN LISU CANADIAN OSAGE DESERET WARANG MATHEMATICAL "
    "FULLWIDTH DOUBLE-STRUCK SCRIPT BLACK-LETTER ROMAN SMALL MODIFIER CIRCLED PARENTHESIZED".split()
)
# Blocks that hold the Latin small capitals and other letters named after a plain Latin letter.
_SMALL_CAPITAL_BLOCKS = ((0x0250, 0x02B0), (0x1D00, 0x1DC0), (0xA720, 0xA800), (0xAB30, 0xAB70))
_SMALL_CAPITAL = re.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z])")

# Digits and symbols standing in for letters inside words ("sh1t", "fr€€", "$pam").
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"}
)  # fmt: skip

_ASCII_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")
_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[\w@$!|€+]+")
_LETTER = re.compile(r"[^\W\d_]")
# Three or more single letters (or leet digits) separated by one and the same space, dot, dash,
# underscore, slash, star, tilde or bullet: "f u c k", "s.p.a.m", "i-d-i-0-t", "c_a_s_i_n_o"
# (the same separator throughout, so "I h.a.t.e" keeps its "I").
_SEPARATED = re.compile(r"(?<![^\W_])[^\W_]([ .\-_*/~·•])(?:[^\W_]\1)+[^\W_](?![^\W_])")
# A separator between two letters inside a word ("ca/sino", "cas-ino"): dropped for term matching.
_INNER_SEPARATOR = re.compile(r"(?<=[^\W\d_])[\-_/.*~·•](?=[^\W\d_])")
_REPEATS = re.compile(r"(.)\1{2,}")
_DOUBLES = re.compile(r"(.)\1+")


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


def _script(ch: str) -> str:
    return unicodedata.name(ch, "").partition(" ")[0]


@cache
def skeleton_table() -> dict[int, str]:
    """Map each look-alike of a Latin letter or digit to that letter (lower case), once per process."""
    small_capitals = {}
    for start, end in _SMALL_CAPITAL_BLOCKS:
        for code in range(start, end):
            match = _SMALL_CAPITAL.fullmatch(unicodedata.name(chr(code), ""))
            if match:
                small_capitals[chr(code)] = match.group(1).lower()
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    )
    table = {ord(ch): letter for ch, letter in small_capitals.items()}
    for ch, glyphs in data.items():
        if len(ch) != 1 or ch.isascii() or _script(ch) not in _IMITATING_SCRIPTS:
            continue
        targets = [g["c"] for g in glyphs if len(g["c"]) == 1]
        plain = [t for t in targets if t.isascii() and t.isalnum()]
        # Letters before digits: a look-alike of both "l" and "1" is read as the letter.
        plain.sort(key=lambda t: not t.isalpha())
        if plain:
            # UTS #39 gives "I" the prototype "l"; a capital that imitates it is read as an "i".
            table[ord(ch)] = "i" if plain[0] == "l" and unicodedata.category(ch) == "Lu" else plain[0].lower()
        elif capitals := [small_capitals[t] for t in targets if t in small_capitals]:
            table[ord(ch)] = capitals[0]
    return table


def _strip_marks(text: str) -> str:
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


def _join_separated(match: re.Match[str]) -> str:
    run = match.group(0)
    if sum(map(str.isalpha, run)) < 2:
        return run  # "1-2-3", "a 1 2": numbers, not a word
    return run.replace(match.group(1), "").translate(_LEET)


def fold(cleaned: str) -> str:
    """Fold cleaned text for matching: lower case, no accents, look-alikes and l33t undone, spacing joined."""
    if cleaned.isascii():
        text = cleaned.lower()
    else:
        # Before and after case folding: capitals imitate capitals ("Ν" is an "N", its small form a
        # "v"), and some small letters only have a look-alike entry in their capital form.
        table = skeleton_table()
        text = _strip_marks(cleaned.translate(table).casefold()).translate(table)
    text = _TOKEN.sub(_fold_token, text)
    text = _SEPARATED.sub(_join_separated, text)
    return _REPEATS.sub(r"\1\1", text)


def compact(folded: str) -> str:
    """Drop separators inside words and squeeze repeated letters: the form blocked terms are matched in."""
    return _DOUBLES.sub(r"\1", _INNER_SEPARATOR.sub("", folded))


@lru_cache(maxsize=4096)
def fold_term(term: str) -> str:
    """Fold a configured term exactly as submission text is folded."""
    return fold(clean(term))


def normalize(text: str) -> tuple[str, str]:
    """Return (cleaned, folded) forms of text."""
    cleaned = clean(text)
    return cleaned, fold(cleaned)
