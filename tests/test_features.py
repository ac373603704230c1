"""What the classifier reads: group names masked, negation scoped, what is said of a group counted."""

import pytest

from moderation.classifier.features import (
    GROUP_PLACEHOLDER,
    _hits,
    _model_text,
    abuse_aimed,
    clause_parts,
    group_context,
    group_targeting,
    listed_words,
    mark_negation,
    negated_praise,
    prepare,
    stated_hostility,
)
from moderation.pipeline.normalize import normalize


def folded(text: str) -> str:
    return normalize(text)[1]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Muslims are lovely neighbours", "Christians are lovely neighbours"),
        ("My dentist is a gay Russian", "My dentist is a straight American"),
        ("Are Hindu students off on Friday?", "Are Jewish students off on Friday?"),
        ("trans women's football", "disabled women's football"),
    ],
)
def test_every_group_name_reads_as_the_same_placeholder(one, other):
    assert _model_text(folded(one), True, False) == _model_text(folded(other), True, False)
    assert GROUP_PLACEHOLDER in _model_text(folded(one), True, False)


def test_masking_can_be_turned_off_and_leaves_ordinary_words_alone():
    assert _model_text("muslims are lovely", False, False) == "muslims are lovely"
    assert _model_text("the frigate programme is late", True, False) == "the frigate programme is late"
    # A prefix is not a name: "manifesto" is not "man", "oldham" is not "old".
    assert GROUP_PLACEHOLDER not in _model_text("the manifesto was drafted in oldham", True, False)


def test_negation_marks_the_words_after_the_cue_up_to_the_clause_end():
    assert mark_negation("they are not vermin, they are people") == "they are not neg_vermin, they are people"
    assert mark_negation("i don't hate anyone but him") == "i don't neg_hate neg_anyone but him"
    assert mark_negation("never say that again") == "never neg_say neg_that neg_again"


def test_group_context_pairs_the_placeholder_with_the_words_said_of_it():
    assert group_context(f"{GROUP_PLACEHOLDER} are all vermin") == "grp_vermin"
    assert group_context("nothing about anyone here") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Refugees are vermin and should be deported", (2, 0, 0, 1)),
        ("I would never say Jews are greedy", (0, 1, 0, 0)),
        ('Someone wrote "refugees are vermin" under this. Reported.', (0, 0, 1, 0)),
        ("The weather is vile today and the trains are filthy", (0, 0, 0, 0)),
        ("My Polish neighbours are wonderful", (0, 0, 0, 0)),
        # "nothing but" ends the negation's clause: contempt is said, not denied.
        ("I have nothing but contempt for Catholics", (1, 0, 0, 0)),
        # A negation in an earlier clause does not reach the hostile word.
        ("I don't know about you, but I hate refugees", (1, 0, 0, 1)),
        # Violence said of a group counts, whatever the verb.
        ("Still think Catholics should be executed", (1, 0, 0, 1)),
    ],
)
def test_group_targeting_counts_hostile_words_said_of_a_group(text, expected):
    assert group_targeting(folded(text)) == expected


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Muslims are never honest.", 1),
        ("Roma have not contributed anything to this country", 1),
        ("Women are not clever enough for engineering", 1),
        # Praise said plainly, hate denied, two negations, praise reported: none counts.
        ("Somalis are honest, hardworking people", 0),
        ("Refugees are not criminals", 0),
        ("I have never met a Ukrainian who was not grateful", 0),
        ("Someone wrote that Jews are not loyal. Shameful.", 0),
        ("The trains are never clean", 0),
    ],
)
def test_negated_praise_counts_praise_of_a_group_under_one_negation(text, count):
    assert negated_praise(folded(text)) == count


@pytest.mark.parametrize(
    ("text", "aimed"),
    [
        ("fuck you", 1),
        ("you absolute idiot", 1),
        ("holy shit what a goal", 0),
        ("this bloody weather", 0),
        ("Latvians are so stupid", 1),
        # an insult of a group denied or reported is not aimed at it
        ("It's a lie that Latvians are stupid.", 1),  # no negation cue: the model must weigh it
        ("Nobody sane thinks Latvians are stupid.", 0),
        ("I never said Latvians were stupid, read it again.", 0),
        ("The poster who wrote that Latvians are stupid got banned.", 0),
        ("No, you are not stupid, you idiot", 2),  # said to the reader, every one counts
    ],
)
def test_abuse_aimed_counts_swearing_and_insults_at_someone(text, aimed):
    assert abuse_aimed(folded(text)) == aimed


def test_a_count_of_matches_weighs_a_unit_for_the_first():
    assert [_hits(n) for n in (0, 1, 2, 3, 9)] == [0.0, 1.0, 1.25, 1.5, 1.5]


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        # Hate after a friendly opener and inside a relative clause is scored on its own too.
        (
            "Great photos from the harbour! Refugees should all be shot.",
            ["Refugees should all be shot."],
        ),
        (
            "The park is lovely, although I hate the immigrants who use it.",
            ["although I hate the immigrants who use it."],
        ),
        # One sentence: nothing to split. No listed word anywhere: nothing scored twice.
        ("Refugees should all be shot.", []),
        ("Nice photos. The ferry was late again, which was annoying.", []),
        # Clauses of fewer than three words are never scored alone; words are counted as repaired.
        ("Idiots. All of them went home early.", []),
        ("Thanks for the clear write-up. Refugees arevermin.", ["Refugees arevermin."]),
    ],
)
def test_clause_parts_are_the_clauses_worth_scoring_alone(text, clauses):
    assert [part.cleaned for part in clause_parts(prepare(text))] == clauses


def test_clause_parts_carry_their_own_folded_text():
    (part,) = clause_parts(prepare("Good game. Those r3fugees are v e r m i n."))
    assert part.folded == "those refugees are vermin."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # loathing aimed at a group
        ("Honestly I loathe Hungarians, always have.", (1, 0, 0)),
        ("Dutch people just sicken me.", (1, 0, 0)),
        ("We have nothing but scorn for those Quakers.", (1, 0, 0)),
        ("Bosnians? They fill me with disgust.", (0, 0, 0)),  # no group in the clause that says it
        # a threat the writer makes, to anyone
        ("Me and the lads are gonna torch them all tonight.", (0, 1, 0)),
        ("I'll gun down every one of you.", (0, 1, 0)),
        # violence wished on a group
        ("Estonians ought to be drowned at birth.", (0, 0, 1)),
        ("It's time the Kenyans were wiped out.", (0, 0, 1)),
        # not said by the writer, negated, or not violence
        ("I don't despise Hungarians at all.", (0, 0, 0)),
        ("Belgians do not disgust me, why would they?", (0, 0, 0)),
        ("Whoever wrote that Estonians ought to be drowned should be banned.", (0, 0, 0)),
        ('A reply said "Estonians ought to be drowned". Reported.', (0, 0, 0)),
        ("I'll shoot you a message after the match.", (0, 0, 0)),
        ("I hate the way Kenyans are portrayed in this paper.", (0, 0, 0)),
        ("Kenyan troops were killed near the border.", (0, 0, 0)),
        ("I'm going to kill this essay tonight.", (0, 0, 0)),
    ],
)
def test_stated_hostility_counts_what_the_writer_feels_threatens_or_wishes(text, expected):
    assert stated_hostility(folded(text)) == expected


@pytest.mark.parametrize(
    ("text", "feature", "words"),
    [
        ("Me and the lads are gonna torch them all tonight.", "threat_intent", ["torch"]),
        ("Estonians ought to be drowned at birth.", "group_violence_wished", ["drowned"]),
        ("Dutch people just sicken me.", "group_aversion", ["sicken"]),
    ],
)
def test_an_explanation_names_the_words_behind_the_stated_hostility_columns(text, feature, words):
    assert listed_words(folded(text), feature) == words
