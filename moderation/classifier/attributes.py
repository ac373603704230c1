"""Perspective's attribute names and the model heads that answer them.

An attribute is available when the loaded model has its head: the default model has all eight; a
model trained on data without sub-labels (a spam file alone) has only the heads its data supports.
"""

from __future__ import annotations

from typing import Iterable

HEAD_BY_ATTRIBUTE: dict[str, str] = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "INSULT": "insult",
    "PROFANITY": "profanity",
    "THREAT": "threat",
    "IDENTITY_ATTACK": "identity_attack",
    "SEXUALLY_EXPLICIT": "sexually_explicit",
    "SPAM": "spam",
}


def head_for(attribute: str) -> str | None:
    """The head scoring a Perspective attribute, or None for a name Perspective clients cannot mean."""
    return HEAD_BY_ATTRIBUTE.get(attribute)


def available_attributes(heads: Iterable[str]) -> list[str]:
    """The attributes a model with these heads can score, in Perspective's order."""
    present = set(heads)
    return [attribute for attribute, head in HEAD_BY_ATTRIBUTE.items() if head in present]
