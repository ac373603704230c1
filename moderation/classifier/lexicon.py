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
    "untermensch*", "mongrel*", "savages", "infidel", "kafir*", "shemale*", "homo", "queer",
    "gypsies", "invaders", "sandnigger*", "beaner*", "jihadi*",
)  # fmt: skip
THREAT_PHRASES = (
    "kill you", "kill yourself", "kys", "i will find you", "find where you live", "watch your back",
    "hope you die", "should be shot", "should be hanged", "put a bullet", "slit your", "burn you",
    "beat you", "break your", "you will pay", "deserve to die", "wish you were dead", "rape",
    "gas them", "hang them", "shoot them", "go die", "drop dead", "end you",
)  # fmt: skip


def _word_pattern(entries: tuple[str, ...]) -> re.Pattern[str]:
    stems = [re.escape(e[:-1]) + r"\w*" for e in entries if e.endswith("*")]
    words = [re.escape(e) + "s?" for e in entries if not e.endswith("*")]
    alternatives = "|".join(sorted(stems + words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(map(re.escape, phrases), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


PATTERNS = {
    "obscene": _word_pattern(OBSCENE),
    "insult": _word_pattern(INSULT),
    "identity": _word_pattern(IDENTITY),
    "threat": _phrase_pattern(THREAT_PHRASES),
}


def lexicon_counts(folded: str) -> dict[str, int]:
    """Count matches of each list in folded text."""
    return {name: len(pattern.findall(folded)) for name, pattern in PATTERNS.items()}
