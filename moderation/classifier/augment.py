"""Training-time augmentations that imitate how people disguise spam and abuse."""

from __future__ import annotations

import random

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_HOMOGLYPH = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")


def _per_char(text: str, rng: random.Random, table: dict[str, str], rate: float) -> str:
    return "".join(table[ch.lower()] if ch.lower() in table and rng.random() < rate else ch for ch in text)


def _space_words(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    index = rng.randrange(len(words))
    if len(words[index]) > 2:
        words[index] = " ".join(words[index])
    return " ".join(words)


def _zero_width(text: str, rng: random.Random) -> str:
    return "".join(ch + (rng.choice(_ZERO_WIDTH) if rng.random() < 0.2 else "") for ch in text)


def _case(text: str, rng: random.Random) -> str:
    return text.upper() if rng.random() < 0.5 else text.lower()


def augment(text: str, rng: random.Random) -> str:
    """Return text disguised by one randomly chosen trick."""
    trick = rng.randrange(5)
    if trick == 0:
        return _per_char(text, rng, _LEET, 0.3)
    if trick == 1:
        return _per_char(text, rng, _HOMOGLYPH, 0.3)
    if trick == 2:
        return _space_words(text, rng)
    if trick == 3:
        return _zero_width(text, rng)
    return _case(text, rng)
