"""Training-time augmentations that imitate how people disguise spam and abuse."""

from __future__ import annotations

import random
import re

from moderation.classifier.lexicon import PATTERNS

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_HOMOGLYPH = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")
_SEPARATORS = ("-", ".", "_", "*", " ")
_WORD = re.compile(r"[^\W\d_]{4,}")


def _per_char(text: str, rng: random.Random, table: dict[str, str], rate: float) -> str:
    return "".join(table[ch.lower()] if ch.lower() in table and rng.random() < rate else ch for ch in text)


def _key_word(text: str, rng: random.Random) -> re.Match[str] | None:
    """A word that carries the message: one from our word lists if there is one, else any long word."""
    lowered = text.lower()
    listed = [m for pattern in PATTERNS.values() for m in pattern.finditer(lowered) if len(m.group(0)) >= 4]
    if listed:
        chosen = rng.choice(listed)
        return _WORD.search(text, chosen.start()) or None
    words = list(_WORD.finditer(text))
    return rng.choice(words) if words else None


def _disguise_word(text: str, rng: random.Random, how: int) -> str:
    match = _key_word(text, rng)
    if match is None:
        return text
    word = match.group(0)
    i = rng.randrange(1, len(word) - 1)
    if how == 0:  # a letter dropped
        word = word[:i] + word[i + 1 :]
    elif how == 1:  # two letters swapped
        word = word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    elif how == 2:  # letters separated out
        word = rng.choice(_SEPARATORS).join(word)
    else:  # a space added inside the word
        word = word[:i] + " " + word[i:]
    return text[: match.start()] + word + text[match.end() :]


def _join_words(text: str, rng: random.Random) -> str:
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if not spaces:
        return text
    i = rng.choice(spaces)
    return text[:i] + text[i + 1 :]


def _zero_width(text: str, rng: random.Random) -> str:
    return "".join(ch + (rng.choice(_ZERO_WIDTH) if rng.random() < 0.2 else "") for ch in text)


def _case(text: str, rng: random.Random) -> str:
    return text.upper() if rng.random() < 0.5 else text.lower()


def augment(text: str, rng: random.Random) -> str:
    """Return text disguised by one randomly chosen trick."""
    trick = rng.randrange(9)
    if trick == 0:
        return _per_char(text, rng, _LEET, 0.3)
    if trick == 1:
        return _per_char(text, rng, _HOMOGLYPH, 0.3)
    if trick <= 5:
        return _disguise_word(text, rng, trick - 2)
    if trick == 6:
        return _join_words(text, rng)
    if trick == 7:
        return _zero_width(text, rng)
    return _case(text, rng)
