"""Word lists that carry meaning across domains: profanity, insults, slurs and threat phrases.

Written for this project. They feed a handful of count features, so a comment full of words the
seed corpus never used in that exact form still lights up the right columns. They are matched on
folded text (lower case, l33t and look-alikes undone). An entry ending in ``*`` is a stem that
matches any word it begins ("fuck*" covers "fucking", "fuckwit"); any other entry matches the
whole word or its plural only, so "rat" does not fire on "rather", "ass" on "assume" or "paki"
on "pakistan".
"""

from __future__ import annotations

import re

OBSCENE = (
    "fuck*", "fck*", "fuk*", "fuq*", "motherfuck*", "shit*", "bullshit*", "crap", "crappy", "piss",
    "pissed", "pissing", "cunt*", "cock", "cocksuck*", "dick", "dickhead*", "prick", "twat*", "wank*",
    "bollock*", "arse", "arsehole*", "ass", "asshole*", "asshat*", "asswipe*", "bitch*", "bastard*",
    "slut*", "whore*", "hoe", "pussy", "pussies", "tits", "titties", "damn", "dammit", "goddamn*",
    "jerkoff*", "blowjob*", "dildo*", "douche*", "turd*", "stfu", "gtfo", "milf*",
)  # fmt: skip
INSULT = (
    "idiot*", "moron*", "stupid*", "dumb", "dumber", "dumbest", "dumbass*", "imbecile*", "cretin*",
    "retard*", "loser*", "pathetic*", "worthless*", "scum*", "trash", "trashy", "garbage", "clown",
    "fool", "foolish", "ignorant*", "braindead*", "halfwit*", "dimwit*", "dipshit*", "jackass*",
    "numpty*", "pillock*", "tosser*", "wanker*", "knobhead*", "muppet*", "simpleton*", "degenerate*",
    "vile", "disgusting*", "ugly", "fat", "fatso*", "fatass*", "freak", "freaks", "creep", "creepy",
    "coward*", "liar", "hypocrite*", "troll", "trolls", "trolling", "parasite*", "vermin", "pig",
    "rat", "snake", "maggot*", "dogwater", "neckbeard*", "incel*", "cuck*", "bozo*", "shut up",
)  # fmt: skip
IDENTITY = (
    "nigger*", "nigga*", "faggot*", "fag", "fags", "dyke", "tranny", "trannies", "kike", "spic",
    "chink", "gook", "wetback*", "raghead*", "towelhead*", "paki", "coon", "darkie*", "subhuman*",
    "untermensch*", "mongrel*", "savages", "kafir*", "shemale*", "gypsies", "sandnigger*", "beaner*",
)  # fmt: skip
THREAT_PHRASES = (
    "kill you", "kill yourself", "kys", "i will find you", "find where you live", "watch your back",
    "hope you die", "should be shot", "should be hanged", "put a bullet", "slit your", "burn you",
    "beat you", "break your", "you will pay", "deserve to die", "wish you were dead", "rape",
    "gas them", "hang them", "shoot them", "go die", "drop dead", "end you",
)  # fmt: skip


# Names of identity groups, written for this project: religions, peoples and nationalities (the
# ones a defence and politics desk names daily among them), genders, sexual orientations, gender
# identities, disabilities and ages. The classifier reads each as one shared placeholder, so a
# group's name is never evidence of abuse by itself. Slurs are not here: they stay in IDENTITY.
GROUP_TERMS = (
    # religion
    "muslim", "moslem", "islam", "islamic", "christian", "christianity", "catholic", "protestant",
    "evangelical", "orthodox", "mormon", "jew", "jewish", "judaism", "hindu", "hinduism", "sikh",
    "buddhist", "buddhism", "atheist", "agnostic", "pagan", "quaker", "shia", "shiite", "sunni",
    # race and ethnicity
    "black", "blacks", "white", "whites", "asian", "latino", "latina", "latinx", "hispanic", "arab",
    "african", "caribbean", "indigenous", "aboriginal", "native", "roma", "romani", "traveller",
    "kurd", "kurdish", "tamil", "uyghur", "uighur", "pashtun", "bedouin", "jewess",
    # migration
    "immigrant", "migrant", "refugee", "asylum seeker", "emigrant", "expat", "foreigner",
    # nationality
    "russian", "ukrainian", "american", "israeli", "palestinian", "chinese", "iranian", "german",
    "french", "frenchman", "frenchmen", "pole", "polish", "mexican", "indian", "pakistani", "turk",
    "turkish", "syrian", "afghan", "nigerian", "somali", "british", "brit", "english", "irish",
    "scottish", "scot", "welsh", "european", "canadian", "korean", "japanese", "vietnamese",
    "filipino", "iraqi", "lebanese", "egyptian", "saudi", "yemeni", "ethiopian", "eritrean",
    "sudanese", "venezuelan", "cuban", "brazilian", "italian", "spanish", "spaniard", "greek",
    "romanian", "bulgarian", "serbian", "serb", "croat", "albanian", "belarusian", "georgian",
    "armenian", "azerbaijani", "chechen", "lithuanian", "latvian", "estonian", "finn", "swede",
    "norwegian", "dane", "dutch", "belgian", "swiss", "austrian", "hungarian", "czech", "slovak",
    "australian", "kiwi", "ghanaian", "kenyan", "jamaican", "haitian", "colombian", "bangladeshi",
    "nepali", "sri lankan", "taiwanese", "tibetan", "mongolian", "kazakh", "uzbek", "libyan",
    "moroccan", "algerian", "tunisian", "jordanian", "qatari", "emirati", "persian",
    # gender
    "woman", "women", "man", "men", "female", "male", "girl", "boy", "lady", "ladies", "gentleman",
    "gentlemen", "mother", "father", "mum", "mom", "dad", "wife", "husband", "daughter", "son",
    "sister", "brother", "grandmother", "grandfather", "feminist",
    # sexual orientation and gender identity
    "gay", "lesbian", "bisexual", "bi", "queer", "homosexual", "heterosexual", "straight", "lgbt",
    "lgbtq", "lgbtqia", "lgbtq+", "trans", "transgender", "nonbinary", "non-binary", "enby",
    "cis", "cisgender", "intersex", "asexual", "pansexual",
    # disability and health
    "disabled", "deaf", "blind", "autistic", "autism", "wheelchair user", "amputee", "dyslexic",
    "paraplegic", "quadriplegic", "disability", "neurodivergent", "down syndrome",
    # age
    "old", "elderly", "pensioner", "retiree", "senior", "young", "youth", "teen", "teenager",
    "millennial", "boomer", "zoomer", "gen z", "gen x", "child", "children", "kid",
)  # fmt: skip
# Words that turn what follows them round, up to the end of the clause.
NEGATION_CUES = (
    "not", "no", "never", "nobody", "none", "nothing", "neither", "nor", "without", "hardly",
    "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont",
    "wouldnt", "shouldnt", "couldnt", "aint",
)  # fmt: skip


# What hate says of a group: contempt, demeaning attributes, dehumanising names, removal and harm.
# Matched only near a group's name (see features.group_targeting); on their own they are ordinary words.
HOSTILE = (
    "hate", "hated", "hates", "hating", "despise*", "loathe*", "detest*", "cant stand", "can't stand",
    "sick of", "fed up with", "disgust*", "revolting", "repulsive", "contempt", "vile", "filthy", "dirty",
    "lazy", "violent", "criminal*", "thieves", "thief", "rapist*", "terrorist*", "stupid*", "dumb",
    "inferior", "worthless", "evil", "primitive", "backward", "savage*", "barbaric", "subhuman*",
    "vermin", "rats", "cockroach*", "parasite*", "leech*", "animals", "beasts", "apes", "monkeys",
    "pigs", "dogs", "insects", "maggots", "disease*", "cancer", "plague", "infestation", "infest*",
    "filth", "scum", "trash", "garbage", "rubbish", "waste of space", "invaders", "invasion", "breed*",
    "deport*", "expel*", "kick out", "kicked out", "get rid of", "send back", "sent back", "go back",
    "round up", "rounded up", "banned", "exterminat*", "eradicat*", "wipe out", "wiped out", "gassed",
    "gas", "hang", "hanged", "hung", "lynch*", "shoot", "shot", "kill*", "burn*", "purge*", "cleanse*",
    "beat*", "locked up", "lock up", "die", "dead", "not human", "not people", "not welcome",
    "don't belong", "dont belong", "do not belong", "never be", "ruin*", "destroy*", "menace", "threat",
    "danger", "dangerous", "liars", "cheats", "greedy", "sick", "freaks", "perverts", "pervert*",
    "groomers", "predators", "mentally ill", "abomination", "unnatural", "degenerate*", "useless",
    "burden", "scroungers", "spongers", "sponging", "overrun", "taking over", "replace*",
)  # fmt: skip
# Words with which readers reject or report hate (counter-speech).
COUNTER = (
    "reported", "reporting", "report it", "racist*", "racism", "bigot*", "hate speech", "hateful",
    "antisemit*", "islamophob*", "homophob*", "transphob*", "xenophob*", "misogyn*", "sexist", "sexism",
    "ableis*", "dehumanis*", "dehumaniz*", "slur*", "shameful", "shame on", "disgrace*", "not ok",
    "not okay", "no place", "unacceptable", "condemn*", "called us", "called me", "calling them",
    "they called", "someone wrote", "someone said", "people say", "stereotype*", "prejudice*",
    "discriminat*", "abuse aimed", "mods", "moderators", "please remove", "removed", "deleted",
)  # fmt: skip


def _word_pattern(entries: tuple[str, ...]) -> re.Pattern[str]:
    stems = [re.escape(e[:-1]) + r"\w*" for e in entries if e.endswith("*")]
    words = [re.escape(e) + "s?" for e in entries if not e.endswith("*")]
    alternatives = "|".join(sorted(stems + words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(map(re.escape, phrases), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _group_forms(terms: tuple[str, ...]) -> set[str]:
    # The plurals people write: "muslims", "women", "churches".
    plurals = {"man": "men", "woman": "women", "child": "children", "lady": "ladies", "wife": "wives"}
    forms = set(terms) | set(plurals.values())
    for term in terms:
        if term not in plurals:
            forms.update({term + "s", term + "es"})
    return forms


def _group_pattern(forms: set[str]) -> re.Pattern[str]:
    # Whole words, with the possessives people write: "muslims", "women's", "jews'".
    alternatives = "|".join(sorted(map(re.escape, forms), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?:'s|s'|')?(?![\w-])")


_GROUP_FORMS = _group_forms(GROUP_TERMS)
GROUP_PATTERN = _group_pattern(_GROUP_FORMS)
_WORD_RUN = re.compile(r"\w+")
# A match of GROUP_PATTERN starts where a run of word characters starts, and that run is the
# leading word of one of its forms ("muslim", "non" of "non-binary"), or that word and the "s" of a
# possessive ("mans'"). Most comments name no group: a set lookup per word rules the pattern out
# for them, far cheaper than trying its hundreds of alternatives at every word.
_GROUP_RUNS = frozenset(_WORD_RUN.match(form).group() for form in _GROUP_FORMS)


def mask_group_names(text: str, placeholder: str) -> str:
    """``GROUP_PATTERN.sub(placeholder, text)``, without running the pattern on text that names no group."""
    runs = _GROUP_RUNS
    for word in _WORD_RUN.findall(text):
        if word in runs or (word[-1] == "s" and word[:-1] in runs):
            return GROUP_PATTERN.sub(placeholder, text)
    return text


def _entries_pattern(entries: tuple[str, ...]) -> re.Pattern[str]:
    # Stems (``*``) and phrases together, whole words only.
    stems = [re.escape(e[:-1]) + r"\w*" for e in entries if e.endswith("*")]
    words = [re.escape(e) for e in entries if not e.endswith("*")]
    alternatives = "|".join(sorted(stems + words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


HOSTILE_PATTERN = _entries_pattern(HOSTILE)
COUNTER_PATTERN = _entries_pattern(COUNTER)

PATTERNS = {
    "obscene": _word_pattern(OBSCENE),
    "insult": _word_pattern(INSULT),
    "identity": _word_pattern(IDENTITY),
    "threat": _phrase_pattern(THREAT_PHRASES),
}


def lexicon_counts(folded: str) -> dict[str, int]:
    """Count matches of each list in folded text."""
    return {name: len(pattern.findall(folded)) for name, pattern in PATTERNS.items()}
