"""The word lists behind the lexicon features: stems, whole words and phrases."""

import pytest

from moderation.classifier.lexicon import lexicon_counts
from moderation.pipeline.normalize import normalize


def counts(text: str) -> dict[str, int]:
    return lexicon_counts(normalize(text)[1])


@pytest.mark.parametrize(
    "text",
    [
        "I would rather assume the assembly rates it fairly",
        "The father of the Pakistan delegation accepted his fate",
        "A trolley of spices, a pigeon and a dumbbell",
        "Homogeneous cocktail recipes for the Arsenal match",
        "Shuttle upgrades and a prickly pear",
    ],
)
def test_ordinary_words_that_begin_like_abuse_do_not_count(text):
    assert counts(text) == {"obscene": 0, "insult": 0, "identity": 0, "threat": 0}


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("what a fucking mess, absolute bullshit", "obscene", 2),
        ("f*ck off you sh1thead", "obscene", 1),  # "f*ck" is masked, "sh1thead" folds to a stem match
        ("you rats and idiots", "insult", 2),
        ("stupidest dumbass take", "insult", 2),
        ("they are subhumans and savages", "identity", 2),
        ("I hope you die, watch your back", "threat", 2),
    ],
)
def test_abusive_words_count_with_their_inflections(text, kind, expected):
    assert counts(text)[kind] == expected
