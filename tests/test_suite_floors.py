"""The shipped recipe on our functional suite: a regression below these floors fails CI.

Floors are five points below what the recipe trained on the corpus (seed 13) reached when they were
set (docs/model.md, "Fairness and robustness"); they guard against regressions, they are not the
targets. Raise them when the model improves.

Since the shipped model is fitted on the fitting side of the fixed held-out split only (a fifth of
the corpus less), four floors were reset to five points below what that model reached (seed 13,
2026-12-01): identity_neutral 90.9, profanity_at_group 89.7, threat_direct 44.9, threat_normative
63.6 (docs/model.md, "Fairness and robustness"). The sexually explicit toxic comments added for the
attribute heads use crude words that some slur homonyms share (a cat, a rooster): slur_homonym fell
from 77 to 68.2 % and its floor was reset to 63.
"""

import json

import pytest

from moderation.classifier.bundle import ModelBundle

FLOORS = {
    "abuse_individual": 95,
    "abuse_nonprotected_group": 91,
    "civil_news": 95,
    "counterspeech_quote": 86,
    "counterspeech_reference": 69,
    "derogation_dehumanisation": 82,
    "derogation_implicit": 22,
    "derogation_negative_attribute": 85,
    "derogation_negative_emotion": 18,
    "disguise_leet": 67,
    "disguise_letter_dropped": 43,
    "disguise_letters_swapped": 36,
    "disguise_separators": 65,
    "disguise_space_added": 40,
    "disguise_space_removed": 28,
    "disguise_unicode_lookalike": 66,
    "hate_later_sentence": 41,
    "hate_opinion": 79,
    "hate_question": 80,
    "hate_subordinate_clause": 53,
    "identity_neutral": 85,
    "identity_positive": 92,
    "negated_hate": 70,
    "negated_positive": 53,
    "profanity_at_group": 84,
    "profanity_not_aimed": 95,
    "reclaimed_self_reference": 94,
    "slur": 92,
    "slur_homonym": 63,
    "spam_domains": 90,
    "threat_direct": 39,
    "threat_normative": 58,
}
BIAS_FLOOR = 0.82
WORST_FALSE_HOLD_CEILING = 0.30


@pytest.fixture(scope="module")
def suite(model_dir):
    manifest = ModelBundle.load_current(model_dir).manifest
    return json.loads(json.dumps(manifest["suite"]))


@pytest.mark.parametrize("functionality", sorted(FLOORS))
def test_functionality_stays_above_its_floor(suite, functionality):
    assert suite["functionalities"][functionality]["pass_rate"] * 100 >= FLOORS[functionality]


def test_every_functionality_of_the_suite_has_a_floor(suite):
    assert set(suite["functionalities"]) == set(FLOORS)


def test_identity_bias_and_worst_false_hold_stay_within_bounds(suite):
    assert suite["bias"]["final"] >= BIAS_FLOOR
    assert suite["worst_false_hold"]["rate"] <= WORST_FALSE_HOLD_CEILING


def test_the_same_text_gets_the_same_verdict_from_every_domain(suite):
    assert suite["spam_domains"]["differing_texts"] == 0
