"""What each head of the model learns, and from which labels.

Two heads decide: ``spam`` and ``toxicity`` (the policy turns them into approve, hold or reject).
The attribute heads score the kinds of abuse Perspective names (severe toxicity, insult,
profanity, threat, identity attack, sexually explicit); they are trained from the corpus's
sub-label tags and change a decision only where the configuration sets a threshold for them.

A row's target for an attribute head is 1, 0 or unknown. Ham rows are negatives for every
attribute except profanity, which ham carries when it swears at no one (tag ``profanity``).
Toxic and spam rows without any tag say nothing about their kind (a binary file's toxic rows, a
moderator's "toxic" verdict): they are left out of the attribute heads rather than counted as
negatives, which would teach a head that an untagged insult is not an insult.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from moderation.classifier.datasets import Example
from moderation.pipeline.domain import ATTRIBUTE_HEADS

DECISION_HEADS = ("spam", "toxicity")
MODEL_HEADS = DECISION_HEADS + ATTRIBUTE_HEADS

# Each attribute head and the tags that make a row positive for it.
ATTRIBUTE_TAGS: dict[str, frozenset[str]] = {
    "severe_toxicity": frozenset({"severe"}),
    "insult": frozenset({"insult"}),
    "profanity": frozenset({"obscene", "profanity"}),
    "threat": frozenset({"threat"}),
    "identity_attack": frozenset({"identity_attack"}),
    "sexually_explicit": frozenset({"sexually_explicit", "adult"}),
}
_DECISION_LABEL = {"spam": "spam", "toxicity": "toxic"}


def target(example: Example, head: str) -> int | None:
    """The example's target for head: 1, 0, or None when its labels do not say."""
    if head in _DECISION_LABEL:
        return int(example.label == _DECISION_LABEL[head])
    tags = ATTRIBUTE_TAGS[head]
    if tags & set(example.tags):
        return 1
    if example.label != "ham" and not example.tags:
        return None
    return 0


def head_labels(examples: Sequence[Example], head: str) -> tuple[np.ndarray, np.ndarray]:
    """Targets of head for examples, and the mask of examples whose labels say something about it."""
    values = [target(ex, head) for ex in examples]
    known = np.array([v is not None for v in values], dtype=bool)
    y = np.array([v or 0 for v in values], dtype=int)
    return y, known
