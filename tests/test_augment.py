import random

import pytest

from moderation.classifier.augment import _disguise_word, _join_words, augment

TEXT = "Honestly the columnist is a pathetic idiot about the frigates"


@pytest.mark.parametrize("how", [0, 1, 2, 3])
def test_disguises_change_a_word_from_our_word_lists(how):
    disguised = _disguise_word(TEXT, random.Random(how), how)
    assert disguised != TEXT
    assert ("pathetic" not in disguised) or ("idiot" not in disguised)
    assert disguised.startswith("Honestly the columnist is a ")


def test_joining_words_removes_exactly_one_space():
    joined = _join_words(TEXT, random.Random(3))
    assert joined.count(" ") == TEXT.count(" ") - 1
    assert joined.replace(" ", "") == TEXT.replace(" ", "")


def test_augment_is_deterministic_for_a_seed_and_never_empty():
    first = [augment(TEXT, random.Random(seed)) for seed in range(50)]
    assert first == [augment(TEXT, random.Random(seed)) for seed in range(50)]
    assert all(text.strip() for text in first)
    assert len(set(first)) > 10
