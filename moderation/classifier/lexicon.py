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
from functools import lru_cache

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
    "kill them", "kill them all", "kill all", "kill every", "burn them", "butcher them", "stab them",
    "strangle them", "slaughter them", "shoot them all", "hunt them down", "hunt you down",
    "string them up", "line them up", "i will kill", "i'll kill", "ill kill", "going to kill",
    "gonna kill", "i will hurt", "should all die", "should be killed", "should be executed",
    "should be gassed", "should be slaughtered", "should be exterminated", "should be burned",
    "should be burnt", "should be lynched", "deserve to be shot", "deserve to be killed",
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
    # contempt and disgust said in other words
    "abhor*", "sicken*", "makes me sick", "make me sick", "cant bear", "can't bear", "cannot stand",
    "cannot bear", "blood boil*", "repugnant", "loathsome", "odious", "detestable", "despicable",
    "contemptible", "nauseat*", "hatred", "resent*", "cant tolerate", "can't tolerate",
    # violence done to people
    "execute", "executed", "executing", "execution", "executions", "slaughter*", "butcher*",
    "strangle*", "stab", "stabbed", "stabbing", "massacre*", "murder*", "tortur*", "behead*",
    "drown*", "poison*", "annihilat*", "genocide", "hunt down", "hunted down", "string up",
    "strung up", "line them up", "put down", "set fire", "torch*",
)  # fmt: skip
# What praise says of a group: worth, honesty, ability, belonging. Said of a group under a negation
# ("they are never honest", "not one of them is capable", "they will never be real citizens") it is
# a demeaning generalisation; matched only near a group's name (see features.group_targeting).
PRAISE = (
    "honest*", "trustworthy", "trusted", "loyal*", "decent", "clean", "civilised", "civilized",
    "intelligent", "smart", "clever", "capable", "competent", "skilled", "hardworking",
    "hard working", "hard-working", "grateful", "thankful", "kind", "peaceful", "law abiding",
    "law-abiding", "respectful", "normal", "human", "humans", "people", "citizens", "citizen", "equal",
    "equals", "real", "proper", "brave", "faithful", "moral", "morals", "conscience", "integrate*",
    "contribut*", "belong", "deserve", "deserving", "useful", "valuable", "reliable", "generous",
    "genuine", "sincere", "invented", "achieved", "earned",
)  # fmt: skip
# A writer's own loathing, said as a feeling: "I despise them", "they revolt me", "nothing but
# contempt for them". Counted only when it is aimed at a named group (features.group_aversion).
AVERSION_VERBS = (
    "hate", "hated", "hates", "despise", "despised", "loathe", "loathed", "detest", "detested", "abhor",
    "abhorred", "resent", "resented", "cant stand", "can't stand", "cannot stand", "cant bear",
    "can't bear", "cannot bear", "cant tolerate", "can't tolerate", "sick of", "sick and tired of",
    "sick to death of", "fed up with",
)  # fmt: skip
AVERSION_FELT_VERBS = (
    "disgust", "disgusts", "revolt", "revolts", "repulse", "repulses", "repel", "repels", "sicken",
    "sickens", "nauseate", "nauseates",
)  # fmt: skip
AVERSION_FELT = (
    "make me sick", "makes me sick", "make me want to vomit",
    "make me want to puke", "turn my stomach", "turns my stomach", "fill me with disgust",
    "fills me with disgust", "fill me with hatred", "fills me with hatred", "fill me with rage",
    "fills me with rage", "give me the creeps", "gives me the creeps",
)  # fmt: skip
AVERSION_NOUNS = ("contempt", "hatred", "disgust", "loathing", "revulsion", "disdain", "scorn")
# Violence as an act: what a threat says the writer will do, or a group should suffer.
VIOLENT_VERBS = (
    "kill", "murder", "shoot", "stab", "strangle", "slaughter", "butcher", "burn", "hang", "lynch",
    "gas", "drown", "behead", "execute", "exterminate", "torture", "bomb",
    "gun down", "mow down", "run over", "knife", "slit", "torch", "string up", "wipe out", "hunt down",
    "eradicate", "annihilate", "massacre", "maim", "cripple", "castrate",
    "beat up", "cut up",
)  # fmt: skip
VIOLENT_PARTICIPLES = (
    "killed", "murdered", "shot", "stabbed", "strangled", "slaughtered", "butchered", "burned",
    "burnt", "hanged", "hung", "lynched", "gassed", "drowned", "beheaded", "executed", "exterminated",
    "tortured", "beaten to death", "bombed", "gunned down", "mowed down", "mown down",
    "run over", "knifed", "torched", "strung up", "wiped out", "hunted down", "put down", "eradicated",
    "annihilated", "massacred", "maimed", "crippled", "castrated", "skinned", "lined up and shot",
    "rounded up and shot", "put against a wall", "put up against a wall", "locked up and the key thrown away",
)  # fmt: skip
# A writer's intent, said between a first-person subject and the act: "I will", "we're going to".
INTENT = (
    "will", "'ll", "shall", "going to", "gonna", "want to", "wanna", "plan to", "planning to",
    "intend to", "about to", "would love to", "'d love to", "cant wait to", "can't wait to",
    "coming to", "gotta", "got to", "am off to",
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
    # Whole words, with the possessives people write: "muslims", "women's", "jews'"; a name with
    # "people" or "folk" after it is one name ("deaf people" reads as "latvians" does).
    alternatives = "|".join(sorted(map(re.escape, forms), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?:'s|s'|')?(?:\s+(?:people|folks?)(?:'s)?)?(?![\w-])")


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
PRAISE_PATTERN = _entries_pattern(PRAISE)
COUNTER_PATTERN = _entries_pattern(COUNTER)
AVERSION_PATTERN = _entries_pattern((*AVERSION_VERBS, *AVERSION_FELT_VERBS, *AVERSION_FELT, *AVERSION_NOUNS))
VIOLENCE_PATTERN = _entries_pattern(
    (*(f"{verb}*" for verb in VIOLENT_VERBS if verb.isalpha()), *VIOLENT_VERBS, *VIOLENT_PARTICIPLES)
)

PATTERNS = {
    "obscene": _word_pattern(OBSCENE),
    "insult": _word_pattern(INSULT),
    "identity": _word_pattern(IDENTITY),
    "threat": _phrase_pattern(THREAT_PHRASES),
}


def lexicon_counts(folded: str) -> dict[str, int]:
    """Count matches of each list in folded text."""
    return {name: len(pattern.findall(folded)) for name, pattern in PATTERNS.items()}


# --- Misspelled abuse -------------------------------------------------------------------------
# The normalizer (pipeline/normalize.py) undoes disguises that keep every letter: look-alikes, l33t,
# separators. A dropped or swapped letter, a space put inside the word or taken out before it
# leave a word the n-grams have never seen. For the words of our lists long enough to be told
# apart from ordinary words, repair_disguises puts the listed word back.
_REPAIR_MIN = 6  # a dropped letter from a shorter word too often leaves a real one (drown -> down)
_SWAP_MIN = 4
# Real words one letter from a listed word, left alone (checked against an English word list, and
# against our corpus); a plural read as its singular changes nothing and is not listed.
_NOT_DISGUISES = frozenset(
    "anger beats bests chats cleans depot easts garage greed hared heats insets invades lathe laughter "
    "loath nausea niger pusses reedy reset rolling rolls roomers sponges strange tabbed tabbing tolling "
    "tolls treat umber violet fagot lairs liras crepe crepes cleane butche assed goddam scrounges aimed "
    "aiming apse ares arts beta brunt butches carp downed downing downs droned droning hooted hooting "
    "hoots killdeer killdeers lair lathed lathes lathing lira mimed miming reels resets ripple rippled "
    "ripples rippling shooed shooing shoos shots sickness silt silts sinned sitting sittings terrorised "
    "terrorises terrorising veil beast betas depots duchess fagots itches loses moons morns reeds tosses "
    "urges".split()
)
# Two real words that spell a listed one when written together.
_NOT_JOINED = frozenset(
    {("use", "less"), ("worth", "less"), ("over", "run"), ("back", "ward"), ("re", "place"),
     ("re", "sent"), ("in", "fest"), ("in", "sects"), ("rep", "lace"), ("dis", "ease"), ("be", "head"),
     ("fat", "so"), ("dog", "water"), ("wet", "back"), ("men", "ace"), ("dumb", "er"), ("hat", "red")}
)  # fmt: skip
# Short words people write on their own: two of them side by side are two words ("be at"), not a
# short listed word split in two ("ha te", "st ab").
_SHORT_WORDS = frozenset(
    "a i o an as at be by do go he hi if in is it me my no of oh ok on or so to up us we ya yo ha ah eh "
    "uh um mr ms dr st tv uk eu the and are but can did for get got had has her him his how its let may "
    "new not now off old one our out own put saw say see she too two use was way who why yes yet you "
    "all any bad big few far man men sun run ran set sat sit lot hot ten per via".split()
)
# Words a listed word is glued to when a space is taken out ("arevermin", "allparasites").
_GLUE = tuple(
    "are is was were be been being all the a an so too to such as of like those these them they just "
    "total real bunch more most very utterly complete absolute bloody fucking filthy dirty damn you "
    "your ur i im ive feel get got go".split()
)
# Words glued in front only ("butcontempt", "reallyhate", "isn'tstupid"): at the end they make
# words ("exterminat|or", "stupides|t").
_LEAD_GLUE = tuple("but and or not really another t".split())
_TRAILING_GLUE = frozenset(_GLUE)
_GLUED_MIN = 5  # "ihate", "tostab", "beshot": a short word and a listed one of four letters or more
_NOT_GLUED = frozenset(
    {"therapist", "therapists", "apathetic", "aspic", "aspics", "burna", "maiman", "moroni", "spica", "tapes"}
)
_LETTERS = re.compile(r"[a-z]+")


def _inflections(base: str) -> set[str]:
    """A verb's forms: "stab" -> "stabs", "stabbed", "stabbing"; "hate" -> "hates", "hated", "hating"."""
    if base.endswith("e"):
        return {base, base + "s", base + "d", base[:-1] + "ing"}
    short_vowel = (
        len(base) <= 4 and base[-1] in "bdgmnprst" and base[-2] in "aeiou" and base[-3] not in "aeiou"
    )
    stem = base + base[-1] if short_vowel else base
    return {base, _plural(base), stem + "ed", stem + "ing"}


def _plural(word: str) -> str:
    """A noun's plural, or a verb's third person: "leech" -> "leeches", "gas" -> "gases"."""
    return word + "es" if word.endswith(("s", "sh", "ch", "x", "z")) else word + "s"


def _repair_words() -> frozenset[str]:
    """Listed words, the stems of those listed as stems ("slaughter" of "slaughter*"), and the
    forms of the verbs of violence and loathing ("killed", "hating")."""
    words = set()
    for entry in (*HOSTILE, *OBSCENE, *INSULT, *IDENTITY, *AVERSION_FELT_VERBS, *VIOLENT_PARTICIPLES):
        base = entry[:-1] if entry.endswith("*") else entry
        if base.isalpha() and len(base) >= _SWAP_MIN:
            words.add(base)
            if entry.endswith("*") and not base.endswith("s"):
                words.add(_plural(base))  # "leech*" is written "leeches" too: "leehes" is put back
    for verb in (*VIOLENT_VERBS, *AVERSION_VERBS):
        if verb.isalpha() and len(verb) >= 3:
            words.update(form for form in _inflections(verb) if len(form) >= _SWAP_MIN)
    return frozenset(words)


_REPAIR_WORDS = _repair_words()
_ENDINGS = ("ers", "ing", "er", "es", "ed", "s", "d")  # "slaughtred" is "slaughtr" + "ed"


def _misspellings() -> dict[str, str]:
    found: dict[str, str] = {}
    for word in sorted(_REPAIR_WORDS):
        variants = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
        if len(word) >= _REPAIR_MIN:
            variants |= {word[:i] + word[i + 1 :] for i in range(len(word))}
        # A plural's singular is not a misspelling of it ("cheat", "animal").
        singular = word[:-1] if word.endswith("s") else None
        for variant in variants - {word, singular}:
            if variant not in _REPAIR_WORDS and variant not in _NOT_DISGUISES:
                found.setdefault(variant, word)
    return found


_MISSPELLINGS = _misspellings()
_GLUABLE = frozenset(w for w in _REPAIR_WORDS if len(w) >= _SWAP_MIN)


def _misspelled(token: str) -> str | None:
    if token in _MISSPELLINGS:
        return _MISSPELLINGS[token]
    stems = [token[: -len(e)] for e in _ENDINGS if token.endswith(e) and len(token) - len(e) >= _SWAP_MIN]
    if any(stem in _REPAIR_WORDS or stem + "e" in _REPAIR_WORDS for stem in stems):
        return None  # a listed word's inflection, spelled right ("despised", "lynches")
    for stem in (stem for stem in stems if len(stem) >= _REPAIR_MIN):
        if stem in _MISSPELLINGS:
            return _MISSPELLINGS[stem] + token[len(stem) :]
    return None


def _unglued(token: str) -> str | None:
    if len(token) < _GLUED_MIN or token in _NOT_GLUED:
        return None
    for glue in (*_GLUE, *_LEAD_GLUE):
        if token.startswith(glue) and _listed_form(token[len(glue) :]):
            return f"{glue} {token[len(glue) :]}"
        if glue in _TRAILING_GLUE and token.endswith(glue) and _listed_form(token[: -len(glue)]):
            return f"{token[: -len(glue)]} {glue}"
    return None


def _listed_form(word: str) -> bool:
    """A listed word long enough to glue, as written or with one of the usual endings."""
    return word in _GLUABLE or any(word.endswith(e) and word[: -len(e)] in _GLUABLE for e in _ENDINGS)


@lru_cache(maxsize=65536)
def _repaired_word(word: str) -> str | None:
    # Per word, cached: a comment's words are mostly the language's common ones, seen before.
    if word in _NOT_DISGUISES:
        return None
    return _misspelled(word) or _unglued(word)


def repair_disguises(folded: str) -> str:
    """Put back listed words written with a letter dropped or swapped, split or glued to a neighbour.

    "they are vermn", "they are vremin", "they are ver min" and "they arevermin" all read "they are
    vermin"; ordinary words one letter from a listed word ("strange", "treat") stay as written.
    """
    tokens = list(_LETTERS.finditer(folded))
    if not tokens:
        return folded
    out: list[str] = []
    position = 0
    skip = False
    for i, match in enumerate(tokens):
        if skip:
            skip = False
            continue
        word = match.group()
        if word in _REPAIR_WORDS:
            continue
        replacement = None
        end = match.end()
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            following is not None
            and folded[end : following.start()] == " "
            and word + following.group() in _REPAIR_WORDS
            and (word, following.group()) not in _NOT_JOINED
            and following.group() not in _REPAIR_WORDS
            and not (word in _SHORT_WORDS and following.group() in _SHORT_WORDS)
            and min(len(word), len(following.group())) >= 2  # "it's hot" is not "it shot"
        ):
            replacement, end, skip = word + following.group(), following.end(), True
        else:
            replacement = _repaired_word(word)
        if replacement is not None:
            out.append(folded[position : match.start()])
            out.append(replacement)
            position = end
    if not out:
        return folded
    out.append(folded[position:])
    return "".join(out)


# Everyday senses of words on the slur list, told apart by the words around them: a cigarette in
# British English, a bundle of sticks or a meatball, an embankment or a road's name, a raccoon or a
# cat breed, a van or a transistor radio, a narrow opening. Each rule rewrites only the listed word
# (the group ``w``) into a plain word for its sense, so "nipped out for a fag" reads like "nipped
# out for a cigarette" to the model and the word lists; the same word aimed at people is left as
# written. Written for this project from what the words mean; matched on folded text.
_NEAR = r"(?:[ '-]+\w+){0,3}?[ '-]+"  # up to three words between the word and its context
_SENSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), sense)
    for pattern, sense in (
        # cigarettes
        (r"(?<!\w)(?P<w>fag)[ -]ends?\b", "tail"),
        (r"(?<!\w)(?P<w>fags?)[ -]+(?:break|breaks|packet|packets|paper|papers|machine|ash|butt|"
         r"butts)\b", "cigarette"),
        (r"\b(?:for|bum|cadge|scrounge|light|lit|lights|rolled|roll|rolls|smoke|smoked|smoking|spare|"
         r"sneaky|quick|crafty|last|first|another) a (?P<w>fag)(?!\w)", "cigarette"),
        (r"\b(?:packet of|pack of|twenty|duty free|duty-free|cheap|smoking|smoke|smoked|lighting|"
         r"rolling) (?P<w>fags)(?!\w)", "cigarettes"),
        (r"(?<!\w)(?P<w>fags?)" + _NEAR + r"(?:lighter|tobacco|smoke|smoking|smoked|ashtray|baccy|booze|"
         r"lager|crisps|cigarettes?)\b", "cigarette"),
        # bundles of wood; meatballs
        (r"\b(?:bundles?|bundled|stacks?) of (?P<w>faggots)(?!\w)", "bundles"),
        (r"(?<!\w)(?P<w>faggots?)[ -]+of[ -]+(?:wood|brushwood|sticks|twigs|kindling|firewood|reeds|"
         r"hazel)\b", "bundles"),
        (r"\b(?:brushwood|kindling|firewood|hazel|wood|twig|stick) (?P<w>faggots?)(?!\w)", "bundles"),
        (r"(?<!\w)(?P<w>faggots?)" + _NEAR + r"(?:peas|gravy|mash|mashed|onion|onions|oven|recipe|liver|"
         r"pork|butcher|butchers|chips|dinner|supper|frozen)\b", "meatballs"),
        (r"\b(?:pork|liver|beef|frozen|homemade|home-made|butcher's|"
         r"butchers) (?P<w>faggots?)(?!\w)", "meatballs"),
        # embankments, ditches and the roads named after them
        (r"(?<!\w)(?P<w>dyke)[ -]+(?:road|rd|lane|street|st|avenue|close|house|end|bridge|farm|walk|"
         r"way|path)\b", "dike"),
        (r"\b(?:offa's|offas|sea|flood|drainage|river|canal|devil's|devils|fen|"
         r"marsh) (?P<w>dykes?)(?!\w)", "dike"),
        (r"(?<!\w)(?P<w>dykes?)" + _NEAR + r"(?:burst|breached|breach|broke|broken|flood|floods|flooding|"
         r"water|ditch|ditches|polder|polders|embankment|levee|drain|drainage|sluice|tide|tides|sea|"
         r"seas|river|hold back|holds back|held back|"
          r"dredged)\b", "dike"),
        (r"\b(?:burst|breached|breach|repair|repaired|raise|raised|along|top of|"
         r"across) the (?P<w>dykes?)(?!\w)", "dike"),
        # raccoons and cats
        (r"\bmaine (?P<w>coons?)(?!\w)", "cat"),
        (r"(?<!\w)(?P<w>coon)[ -]?(?:hound|hounds|dog|dogs|skin|skins)\b", "raccoon"),
        (r"(?<!\w)(?P<w>coons?)" + _NEAR + r"(?:raccoon|raccoons|tail|tails|masked|bin|bins|trash can|"
         r"garbage can|critter|critters|possum|possums|squirrel|squirrels)\b", "raccoon"),
        (r"(?<!\w)(?P<w>coons?)(?=[^.!?]{0,80}\braccoons?\b)", "raccoon"),
        (r"\braccoons?\b[^.!?]{0,80}(?<!\w)(?P<w>coons?)(?!\w)", "raccoon"),
        (r"\b(?:raccoon|possum|squirrel)s? (?:and|or) (?:a |the )?(?P<w>coons?)(?!\w)", "raccoon"),
        # vans and radios
        (r"(?<!\w)(?P<w>tranny)[ -]+(?:van|vans|radio|radios|gearbox|box|fluid|oil|mechanic)\b", "transit"),
        (r"(?<!\w)(?P<w>tranny)" + _NEAR + r"(?:gearbox|clutch|transmission|engine|mot|mileage|diesel|"
         r"transistor|batteries|wheelbase|tipper)\b", "transit"),
        # cleanliness; a narrow opening or a sound
        (r"(?<!\w)(?P<w>spic(?:[ -]+and[ -]+|-and-)span)\b", "spotless"),
        (r"(?<!\w)(?P<w>chinks?)[ -]+(?:of|in)[ -]+(?:the[ -]+|his[ -]+|her[ -]+|their[ -]+|"
         r"our[ -]+|its[ -]+|your[ -]+|my[ -]+)?"
         r"(?:light|daylight|sunlight|moonlight|armour|armor|curtain|curtains|door|doors|wall|walls|"
         r"fence|shutters|blinds|hope|cloud|clouds|defence|defences|defense|argument|logic)\b", "crack"),
        (r"(?<!\w)(?P<w>chink)[ -]+of[ -]+(?:glasses|glass|ice|coins|cutlery|china|keys)\b", "clink"),
    )
)  # fmt: skip
_SENSE_WORDS = frozenset(
    {
        "fag",
        "fags",
        "faggot",
        "faggots",
        "dyke",
        "dykes",
        "coon",
        "coons",
        "tranny",
        "spic",
        "chink",
        "chinks",
    }
)


def plain_senses(folded: str) -> str:
    """Rewrite slur-list words used in an everyday sense into a plain word for that sense.

    "keep it spic and span", "a chink of light", "nipped out for a fag", "a house on Dyke Road", "a
    coon up the tree, a big raccoon" are not slurs; the same words aimed at people stay as written.
    """
    if not any(word in _SENSE_WORDS for word in _LETTERS.findall(folded)):
        return folded
    for pattern, sense in _SENSES:
        folded = pattern.sub(lambda m, sense=sense: _replace_group(m, sense), folded)
    return folded


def _replace_group(match: re.Match[str], sense: str) -> str:
    start, end = match.span("w")
    whole = match.group()
    offset = match.start()
    return whole[: start - offset] + sense + whole[end - offset :]
