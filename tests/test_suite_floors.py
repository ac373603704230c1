"""The shipped recipe on our functional suite: a regression below these floors fails CI.

Floors are five points below what the recipe trained on the corpus (seed 13) reached when they were
last set (feature version 4 with the night's corpus, 2026-12-01, docs/model.md, "Fairness and
robustness"; the three disguises the glued-word repair raised were set from its column, "repair");
they guard against regressions, they are not the targets. Raise them when the model
improves; a floor is never lowered here. The bias floor and the worst false-hold ceiling sit five
points and about twelve points from what the model reached (0.981, 8.3 %).
"""

import json

import pytest

from moderation.classifier.bundle import ModelBundle

FLOORS = {
    "abuse_individual": 95,
    "abuse_nonprotected_group": 92,
    "civil_news": 95,
    "counterspeech_quote": 95,
    "counterspeech_reference": 94,
    "derogation_dehumanisation": 85,
    "derogation_implicit": 39,
    "derogation_negative_attribute": 89,
    "derogation_negative_emotion": 93,
    "disguise_leet": 86,
    "disguise_letter_dropped": 81,
    "disguise_letters_swapped": 82,
    "disguise_separators": 86,
    "disguise_space_added": 84,
    "disguise_space_removed": 88,
    "disguise_unicode_lookalike": 88,
    "hate_later_sentence": 85,
    "hate_opinion": 90,
    "hate_question": 87,
    "hate_subordinate_clause": 81,
    "identity_neutral": 95,
    "identity_positive": 95,
    "negated_hate": 91,
    "negated_positive": 84,
    "profanity_at_group": 94,
    "profanity_not_aimed": 95,
    "reclaimed_self_reference": 95,
    "slur": 92,
    "slur_homonym": 90,
    "spam_domains": 90,
    "threat_direct": 90,
    "threat_normative": 91,
}
BIAS_FLOOR = 0.93
WORST_FALSE_HOLD_CEILING = 0.20


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
