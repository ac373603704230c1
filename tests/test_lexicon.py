"""The word lists behind the lexicon features: stems, whole words and phrases."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.classifier import lexicon
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


# Text that names groups in every way the pattern knows (plurals, possessives, multi-word and
# hyphenated names) mixed with words that only begin like them.
_GROUP_WORDS = sorted(lexicon._GROUP_FORMS) + [
    "mans'",
    "women's",
    "jews'",
    "bible",
    "bill",
    "nonsense",
    "asian-",
]
_FILLER = ["the", "a", "are", "-", "'", "s", "rather", "big", ",", "musli", "xgroupx"]


@given(st.lists(st.sampled_from(_GROUP_WORDS + _FILLER), max_size=12), st.sampled_from([" ", "", "-", "'"]))
def test_masking_group_names_matches_the_pattern_everywhere(words, joiner):
    text = joiner.join(words)
    assert lexicon.mask_group_names(text, "xgroupx") == lexicon.GROUP_PATTERN.sub("xgroupx", text)


def test_masking_skips_text_that_names_no_group_and_masks_the_rest():
    assert lexicon.mask_group_names("the bill was big news", "xgroupx") == "the bill was big news"
    assert lexicon.mask_group_names("muslims' rights, women's votes", "G") == "G rights, G votes"
    # A name with "people" or "folk" after it is one name; "people" alone is not a group.
    assert (
        lexicon.mask_group_names("deaf people and old folks, people who are old", "G")
        == "G and G, people who are G"
    )


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ("they are vermn", "they are vermin"),  # a letter dropped
        ("they are vremin", "they are vermin"),  # two letters swapped
        ("they are ver min", "they are vermin"),  # a space added
        ("they arevermin", "they are vermin"),  # a space removed
        ("they are all parasties", "they are all parasites"),  # swapped, in a plural
        ("they should be slaughtred", "they should be slaughtered"),  # dropped, in an inflection
        ("filht everywhere", "filth everywhere"),
        ("they should all be kiled", "they should all be killed"),  # dropped, in a verb's form
        ("i will satb them", "i will stab them"),  # swapped, in a short verb
        ("i ha te them", "i hate them"),  # a short word split in two
        ("they deserve to be dro wned", "they deserve to be drowned"),
        ("they deserve to belynched", "they deserve to be lynched"),  # glued to a short listed word
        ("honestly idespise them", "honestly i despise them"),
        ("what a bunch of theshits", "what a bunch of the shits"),
        ("ihate them", "i hate them"),  # a short word glued to a listed one of four letters
        ("they will all beshot", "they will all be shot"),
        ("i am coming tostab you", "i am coming to stab you"),
        ("nothing butcontempt for them", "nothing but contempt for them"),  # glued in front only
        ("i reallyhate them", "i really hate them"),
        ("he isn'tstupid", "he isn't stupid"),
        ("they are leehes", "they are leeches"),  # a starred word's plural, a letter dropped
        ("they should be gased", "they should be gassed"),  # "gas" doubles its s
        ("a bunch of towel heads", "a bunch of towelheads"),  # a starred word's plural, split
    ],
)
def test_misspelled_abuse_is_put_back(text, repaired):
    assert lexicon.repair_disguises(text) == repaired


# Ordinary words one letter from a listed word, words that contain one, and phrases whose two
# words spell one: none of them is a disguise.
_ORDINARY = (
    "strange treat treats garage reset laughter anger depot rolling tolls violet thread theater cleaned "
    "therapist therapists apathetic morning downed picks shots urges despised despising cleansing "
    "animal cheat cheated monkey insect half-assed niger aimed sitting arts beta lair veil silt down "
    "pick moon urge sickness torches lynches carp beast betas depots duchess itches loses moons morns "
    "reeds tosses urges tapes annihilator exterminator sickest vilest stupidest"
).split() + ["worth less", "use less", "over run", "dis ease", "back ward", "be at", "it's hot", "go ok"]


@given(st.lists(st.sampled_from(_ORDINARY + ["the", "a", "is", "was", "very", "they", "and"]), max_size=10))
def test_ordinary_words_are_never_repaired(words):
    text = " ".join(words)
    assert lexicon.repair_disguises(text) == text


def test_correctly_spelled_listed_words_stay_as_written():
    text = "vermin parasites slaughtered despise despised hating disgusting"
    assert lexicon.repair_disguises(text) == text


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("the tiles were spic and span by noon", "the tiles were spotless by noon"),
        ("a bundle of faggots for the bread oven", "a bundle of bundles for the bread oven"),
        ("the dyke that holds back the river", "the dike that holds back the river"),
        ("she stepped out for a fag and a chat", "she stepped out for a cigarette and a chat"),
        ("twenty fags from the duty free", "twenty cigarettes from the duty free"),
        ("the fag end of a long parliament", "the tail end of a long parliament"),
        ("faggots of hazel for the hedge", "bundles of hazel for the hedge"),
        ("pork faggots with onion gravy", "pork meatballs with onion gravy"),
        ("the flats on dyke road", "the flats on dike road"),
        ("the sea dyke was breached in the storm", "the sea dike was breached in the storm"),
        ("our maine coon sleeps all day", "our maine cat sleeps all day"),
        ("a coon hound barked at the raccoons", "a raccoon hound barked at the raccoons"),
        ("the tranny van failed its mot", "the transit van failed its mot"),
        ("a chink in their defence", "a crack in their defence"),
        ("the chink of glasses at the bar", "the clink of glasses at the bar"),
    ],
)
def test_slur_list_words_in_an_everyday_sense_read_as_that_sense(text, plain):
    assert lexicon.plain_senses(text) == plain


@pytest.mark.parametrize(
    "text",
    [
        "shut up you fag, end of story",
        "get the faggots out of our town",
        "a bunch of faggots, the lot of them",
        "dykes and trannies ruin everything",
        "another chink moved in next door",
        "spics go home",
        "some coon stole it",
        "it's hot out, take water",
    ],
)
def test_slur_list_words_aimed_at_people_stay_as_written(text):
    assert lexicon.plain_senses(text) == text
