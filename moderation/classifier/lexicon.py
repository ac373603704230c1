"""Word lists that carry meaning across domains: profanity, insults, slurs and threat phrases.

Written for this project. They feed a handful of count features, so a comment full of words the
seed corpus never used in that exact form still lights up the right columns. Entries are matched
as prefixes of folded words (so "fuck" also covers "fucking", "fucker").
"""

from __future__ import annotations

import re

OBSCENE = (
    "fuck", "fck", "fuk", "motherfuck", "shit", "bullshit", "crap", "piss", "cunt", "cock", "dick",
    "prick", "twat", "wank", "bollock", "arse", "ass", "asshole", "bitch", "bastard", "slut", "whore",
    "hoe", "pussy", "tits", "damn", "goddamn", "jerkoff", "blowjob", "dildo", "douche", "turd",
)  # fmt: skip
INSULT = (
    "idiot", "moron", "stupid", "dumb", "imbecile", "cretin", "retard", "loser", "pathetic",
    "worthless", "scum", "trash", "garbage", "clown", "fool", "ignorant", "braindead", "halfwit",
    "dimwit", "dipshit", "jackass", "dumbass", "numpty", "pillock", "tosser", "wanker", "knobhead",
    "muppet", "simpleton", "degenerate", "vile", "disgusting", "ugly", "fat", "freak", "creep",
    "coward", "liar", "hypocrite", "troll", "parasite", "vermin", "pig", "rat", "snake", "maggot",
)  # fmt: skip
IDENTITY = (
    "nigger", "nigga", "faggot", "fag", "dyke", "tranny", "kike", "spic", "chink", "gook", "wetback",
    "raghead", "towelhead", "paki", "coon", "darkie", "subhuman", "untermensch", "mongrel",
    "savages", "infidel", "kafir", "shemale", "homo", "queer", "gypsies", "invaders",
)  # fmt: skip
THREAT_PHRASES = (
    "kill you", "kill yourself", "kys", "i will find you", "find where you live", "watch your back",
    "hope you die", "should be shot", "should be hanged", "put a bullet", "slit your", "burn you",
    "beat you", "break your", "you will pay", "deserve to die", "wish you were dead", "rape",
    "gas them", "hang them", "shoot them", "go die", "drop dead", "end you",
)  # fmt: skip


def _prefix_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})\w*")


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(map(re.escape, phrases), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


PATTERNS = {
    "obscene": _prefix_pattern(OBSCENE),
    "insult": _prefix_pattern(INSULT),
    "identity": _prefix_pattern(IDENTITY),
    "threat": _phrase_pattern(THREAT_PHRASES),
}


def lexicon_counts(folded: str) -> dict[str, int]:
    """Count matches of each list in folded text."""
    return {name: len(pattern.findall(folded)) for name, pattern in PATTERNS.items()}
