"""Feature extraction shared by every head: word and character n-grams of the text, and its structure."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from moderation.classifier.lexicon import (
    AVERSION_FELT,
    AVERSION_FELT_VERBS,
    AVERSION_NOUNS,
    AVERSION_PATTERN,
    AVERSION_VERBS,
    COUNTER_PATTERN,
    HOSTILE_PATTERN,
    INTENT,
    NEGATION_CUES,
    PATTERNS,
    PRAISE_PATTERN,
    VIOLENCE_PATTERN,
    VIOLENT_PARTICIPLES,
    VIOLENT_VERBS,
    lexicon_counts,
    mask_group_names,
    plain_senses,
    repair_disguises,
)
from moderation.pipeline.domain import PreparedRecord
from moderation.pipeline.normalize import fold, normalize

Record = Mapping[str, Any] | str


def prepare(record: Record) -> PreparedRecord:
    """Normalize one raw record (a text or a mapping with text, name, email, url)."""
    if isinstance(record, str):
        record = {"text": record}
    cleaned, folded = normalize(str(record.get("text") or ""))
    return PreparedRecord(
        folded,
        cleaned,
        str(record.get("name") or ""),
        str(record.get("email") or ""),
        str(record.get("url") or ""),
    )


class Prepare(BaseEstimator, TransformerMixin):
    """First pipeline step: raw records in, normalized records out."""

    def fit(self, records: Iterable[Record], y: Any = None) -> Prepare:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def transform(self, records: Iterable[Record]) -> list[PreparedRecord]:
        return [r if isinstance(r, PreparedRecord) else prepare(r) for r in records]


# What the feature code computes, as a number: a model file records the version it was trained with,
# and a model of another version is refused (modelfile.py), since the same columns would now mean
# other things. 2: counts of matches as units, misspelled listed words repaired, reported words not
# counted as said (2026-12-01). 3: praise of a group under a negation counted (2026-12-01). 4: slur-list
# words in an everyday sense read as that sense; stated aversion to a group, threatened violence
# and violence wished on a group counted (2026-12-01).
FEATURES_VERSION = 4

GROUP_PLACEHOLDER = "xgroupx"  # what the model reads in place of any identity group's name
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)([^\s/<>\"':?#]*)", re.IGNORECASE)
_OBFUSCATED_URL = re.compile(
    r"\w\s*(?:\(|\[)?\s*(?:dot|\.)\s*(?:\)|\])?\s*(?:com|net|org|info|xyz|top|ru|io|co|online|site|biz)\b"
    r"|\[\.\]|hxxp",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$£€¥₹]\s?\d|\d\s?(?:usd|eur|gbp|btc|eth|usdt|dollars|pounds|k\b)|\b(?:bitcoin|crypto|forex)\b",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?:\+\d[\d\s\-().]{7,}\d)|(?:\b\d[\d\-\s]{8,}\d\b)")
# Anchored at the start of a run: unanchored, every position of a long word was retried (quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.]+")
_REPEAT = re.compile(r"(.)\1{3,}")
_WORD = re.compile(r"\w+")

STRUCTURAL_NAMES = (
    "log_length", "log_words", "links", "domains", "obfuscated_links", "money", "phone",
    "email_in_text", "upper_ratio", "exclaim_ratio", "digit_ratio", "symbol_ratio",
    "non_ascii_ratio", "repeats", "lexicon_obscene", "lexicon_insult", "lexicon_identity",
    "lexicon_threat", "second_person", "group_hostile", "group_hostile_negated", "group_hostile_quoted",
    "group_hostile_adjacent", "group_praise_negated", "counter_speech", "abuse_aimed", "group_aversion",
    "threat_intent", "group_violence_wished",
)  # fmt: skip
_SECOND_PERSON = re.compile(r"(?<!\w)(?:you|your|youre|ur|u|yourself|ya)(?!\w)")


def _hits(count: int) -> float:
    """A count of matches as a feature: 1 for the first, a quarter more for each of the next two.

    One hostile word aimed at a group is the signal; a third of a unit for it (as counts scaled to
    [0, 1] gave) made the model need weights its regularization would not allow.
    """
    return 0.0 if count == 0 else 1.0 + 0.25 * (min(count, 3) - 1)


def structural_row(record: PreparedRecord) -> list[float]:
    """Return the structural features of one record, each roughly within [0, 1.5]."""
    text = record.cleaned
    n = max(len(text), 1)
    letters = sum(map(str.isalpha, text)) or 1
    words = _WORD.findall(text)
    urls = _URL.findall(text)
    symbols = n - sum(map(str.isalnum, text)) - sum(map(str.isspace, text))
    return [
        math.log1p(len(text)) / 10,
        math.log1p(len(words)) / 7,
        min(len(urls), 5) / 5,
        min(len({u.lower() for u in urls}), 5) / 5,
        min(len(_OBFUSCATED_URL.findall(text)), 3) / 3,
        min(len(_MONEY.findall(text)), 5) / 5,
        min(len(_PHONE.findall(text)), 3) / 3,
        min(len(_EMAIL.findall(text)), 3) / 3,
        sum(map(str.isupper, text)) / letters,
        min(text.count("!") / n * 10, 1.0),
        sum(map(str.isdigit, text)) / n,
        symbols / n,
        (n - len(text.encode("ascii", "ignore"))) / n if text else 0.0,
        min(len(_REPEAT.findall(text)), 3) / 3,
        *map(_hits, said_lexicon_counts(_repaired(record.folded))),
        _hits(len(_SECOND_PERSON.findall(record.folded))),
        *map(_hits, group_targeting(record.folded)),
        _hits(negated_praise(record.folded)),
        _hits(len(COUNTER_PATTERN.findall(record.folded))),
        _hits(abuse_aimed(record.folded)),
        *map(_hits, stated_hostility(record.folded)),
    ]


_SENTENCE = re.compile(r"[.!?;\n]+")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{1,300})[\"“”«»]|(?<!\w)'([^']{4,300})'(?!\w)")
_HOSTILE_WINDOW = 40  # characters between a group's name and what is said of it


# Words that may stand between a group's name and what is said of it: "hate all those X",
# "X are all vermin", "kill every X".
_JOINERS = (
    r"(?:(?:are|is|was|were|be|been|being|all|the|those|these|them|they|every|each|any|some|more|"
    r"of|should|must|would|will|to|just|so|such|bloody|fucking|damn|filthy|people|lot)\s+){0,3}"
)


def group_targeting(folded: str) -> tuple[int, int, int, int]:
    """Count hostile words said of a named group: plain, under a negation, and quoted or reported.

    "refugees are vermin" counts as hostile; "refugees are not vermin" and "I would never say
    refugees are vermin" as negated; "someone wrote 'refugees are vermin'" and "comments calling
    refugees vermin" as quoted (what someone else said, reported). The model
    learns what each is worth; a hostile word far from any group's name counts nowhere here.
    """
    text = _model_text(folded, True, False)
    plain = negated = inside_quotes = 0
    for sentence, at, others in _near_group_names(text, HOSTILE_PATTERN):
        if others:
            inside_quotes += 1
        elif _negated(sentence, at):
            negated += 1
        else:
            plain += 1
    adjacent = len(_ADJACENT.findall(text)) if plain else 0
    return plain, negated, inside_quotes, adjacent


def _near_group_names(text: str, pattern: re.Pattern[str]) -> Iterator[tuple[str, int, bool]]:
    """Each match of pattern near a group's name in the same sentence of masked text: the sentence,
    where in it the match starts, and whether it is someone else's words (quoted or reported)."""
    if GROUP_PLACEHOLDER not in text:
        return
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    start = 0
    for boundary in [*(m.start() for m in _SENTENCE.finditer(text)), len(text)]:
        sentence_start, start = start, boundary + 1
        sentence = text[sentence_start:boundary]
        groups = [m.start() for m in re.finditer(GROUP_PLACEHOLDER, sentence)]
        if not groups:
            continue
        for match in pattern.finditer(sentence):
            if not any(abs(match.start() - g) <= _HOSTILE_WINDOW for g in groups):
                continue
            where = sentence_start + match.start()
            others = any(a <= where < b for a, b in quoted) or _reported(sentence, match.start())
            yield sentence, match.start(), others


def negated_praise(folded: str) -> int:
    """Count words of praise said of a named group under one negation: "they are never honest", "not
    one of them has contributed", "they will never be real citizens". Negated praise is a demeaning
    generalisation; two negations ("never met one who wasn't grateful") cancel, and praise quoted or
    reported counts nowhere.
    """
    text = _model_text(folded, True, False)
    count = 0
    for sentence, at, others in _near_group_names(text, PRAISE_PATTERN):
        if not others and len(_NEGATION.findall(sentence, 0, at)) == 1 and _negated(sentence, at):
            count += 1
    return count


# Words with which a reader reports what someone else said, quotation marks or not: "comments
# calling refugees vermin", "whoever wrote that Jews are greedy".
_REPORTING = re.compile(
    r"(?<!\w)(?:calling|called|who call|who calls|who said|who says|who say|who wrote|who writes|"
    r"wrote that|writing that|saying that|claiming that|claims that|spreading|comments?|posts?|"
    r"the word|the slur|the phrase)(?!\w)"
)
_REPORT_REACH = 6  # words between the report and what it reports


# The narrower set for swearing and insults, which readers aim at each other in "your comments are
# idiotic" and "I called him a moron": only words that introduce what another person wrote.
_QUOTING = re.compile(
    r"(?<!\w)(?:who call|who calls|who said|who says|who say|who wrote|who writes|wrote that|"
    r"writing that|saying that|claiming that|the word|the slur|the phrase)(?!\w)"
)


def _reported(sentence: str, at: int, cues: re.Pattern[str] = _REPORTING) -> bool:
    """Whether the word at ``at`` is what someone else said, reported by the writer (see above)."""
    for cue in cues.finditer(sentence, 0, at):
        if len(sentence[cue.end() : at].split()) <= _REPORT_REACH:
            return True
    return False


def _negated(sentence: str, at: int) -> bool:
    """Whether the word at ``at`` falls in a negation's scope: the same clause, at most four words on.

    The scope is the one ``mark_negation`` gives the word n-grams: "they are not vermin" and "I
    would never say they are vermin" are negated; "nothing but contempt for them" is not (the
    clause ends at "but"), nor is "I don't know about you, but I hate them".
    """
    for cue in _NEGATION.finditer(sentence, 0, at):
        between = sentence[cue.end() : at]
        if not _CLAUSE_END.search(between) and len(between.split()) <= _SCOPE_WORDS:
            return True
    return False


_ADJACENT = re.compile(
    rf"(?:{HOSTILE_PATTERN.pattern})\s+{_JOINERS}{GROUP_PLACEHOLDER}"
    rf"|{GROUP_PLACEHOLDER}\s+{_JOINERS}(?:{HOSTILE_PATTERN.pattern})"
)
_AIMED = re.compile(
    rf"(?<!\w)(?:you|your|ur|u|ya|youre|{GROUP_PLACEHOLDER})\s+(?:\w+\s+){{0,2}}"
    rf"(?:{PATTERNS['obscene'].pattern}|{PATTERNS['insult'].pattern})"
    rf"|(?:{PATTERNS['obscene'].pattern})\s+(?:you|your|ur|u|ya|{GROUP_PLACEHOLDER})(?!\w)"
)


# "Don't be an idiot" is still an insult and a slur under a negation still a slur; "I would never
# say they should be shot" is no threat.
_NEGATABLE = frozenset({"threat"})


def said_lexicon_counts(folded: str) -> tuple[int, ...]:
    """Word-list matches per list (obscene, insult, identity, threat), leaving out those the writer
    does not say: inside quotation marks, reported ("whoever wrote that they should be shot") or
    negated ("I would never call them brainless"). Counter-speech repeats the words it rejects."""
    counts = dict(zip(PATTERNS, _listed_counts(folded), strict=True))
    if not any(counts.values()):
        return tuple(counts.values())
    quoted = [m.span() for m in _QUOTED.finditer(folded)]
    said = dict.fromkeys(counts, 0)
    start = 0
    for boundary in [*(m.start() for m in _SENTENCE.finditer(folded)), len(folded)]:
        sentence_start, start = start, boundary + 1
        sentence = folded[sentence_start:boundary]
        for name, pattern in PATTERNS.items():
            if not counts[name]:
                continue
            for match in pattern.finditer(sentence):
                where = sentence_start + match.start()
                if any(a <= where < b for a, b in quoted):
                    continue
                if _reported(sentence, match.start(), _QUOTING):
                    continue
                if name in _NEGATABLE and _negated(sentence, match.start()):
                    continue
                said[name] += 1
    return tuple(said.values())


# The structural features that count words of our lists, and the lists they count: an explanation
# that names such a feature also names the words (a moderator sees "idiot" marked, not a count).
_LISTED_FEATURES = {
    "lexicon_obscene": (PATTERNS["obscene"],),
    "lexicon_insult": (PATTERNS["insult"],),
    "lexicon_threat": (PATTERNS["threat"],),
    "group_hostile": (HOSTILE_PATTERN,),
    "group_hostile_adjacent": (HOSTILE_PATTERN,),
    "abuse_aimed": (PATTERNS["obscene"], PATTERNS["insult"]),
    "group_aversion": (AVERSION_PATTERN,),
    "threat_intent": (VIOLENCE_PATTERN,),
    "group_violence_wished": (VIOLENCE_PATTERN,),
}


def listed_words(folded: str, feature: str) -> list[str]:
    """The words of our lists behind a structural feature, as they occur in the folded text
    (first occurrence order, each once); [] for a feature that counts no list."""
    found: dict[str, None] = {}
    for pattern in _LISTED_FEATURES.get(feature, ()):
        for match in pattern.finditer(folded):
            found.setdefault(match.group().strip(), None)
    return list(found)


def abuse_aimed(folded: str) -> int:
    """Count swearing and insults aimed at the reader or a group ("you fucking idiot", "fuck you").

    Said of a group under a negation ("it is not true that they are stupid", "never thought they
    were pathetic") or reported, an insult is denied, not aimed; said to the reader it still counts
    ("don't be an idiot").
    """
    text = _model_text(folded, True, False)
    count = 0
    for match in _AIMED.finditer(text):
        if GROUP_PLACEHOLDER in match.group() and not _said_by_writer(text, match):
            continue
        count += 1
    return count


def _any(entries: Iterable[str]) -> str:
    alternatives = "|".join(
        sorted((re.escape(e).replace("'", "['’]") for e in entries), key=len, reverse=True)
    )
    return f"(?:{alternatives})"


# What stands between a verb and the group it is aimed at: "hate every single one of those X".
_TO_GROUP = (
    r"(?:(?:all|the|those|these|every|single|one|of|them|any|some|most|such|bloody|fucking|damn|"
    rf"filthy|dirty|lot|so-called|other)\s+){{0,5}}{GROUP_PLACEHOLDER}"
)
_FIRST_PERSON = r"(?<![\w'’])(?:i|we|im|ive|i['’](?:m|ve|ll|d)|we['’](?:re|ve|ll|d)|me and \w+|\w+ and i)"
_AVERSION = re.compile(
    rf"{_FIRST_PERSON}\s+(?:[\w'’]+\s+){{0,3}}?{_any(AVERSION_VERBS)}\s+{_TO_GROUP}"
    rf"|{GROUP_PLACEHOLDER}\s+(?:(?:people|folk|really|just|all|honestly|simply|totally|absolutely|"
    rf"frankly|seriously|truly|genuinely)\s+){{0,2}}"
    rf"{_any(AVERSION_FELT_VERBS)}\s+(?:me|us)(?!\w)"
    rf"|{GROUP_PLACEHOLDER}\s+(?:[\w'’]+\s+){{0,3}}?{_any(AVERSION_FELT)}"
    rf"|{_FIRST_PERSON}\s+(?:[\w'’]+\s+){{0,4}}?{_any(AVERSION_NOUNS)}\s+(?:for|of|towards?|at)\s+{_TO_GROUP}"
)
_TARGET = (
    rf"(?:(?:all|the|those|these|every|each|some|any|as many|a few|one|of|more)\s+){{0,3}}"
    rf"(?:{GROUP_PLACEHOLDER}|them|you|him|her|ya|u|y'all|everyone|everybody|anyone|anybody|people|"
    r"every|each|all|some|as many|a few|the lot|the whole lot|name|names)(?!\w)"
)
_INTENT = re.compile(
    rf"(?:{_FIRST_PERSON}\s+(?:[\w'’]+\s+){{0,3}}?{_any(INTENT)}|(?<![\w'’])(?:i|we)['’]ll)\s+(?:[\w'’]+\s+){{0,2}}?"
    rf"{_any(VIOLENT_VERBS)}\s+{_TARGET}"
    r"(?!\s+(?:an?|some|the)\s+(?:e-?mail|message|text|line|note|dm|pm|link|call|look|smile|wave)\b)"
)
_WISHED = re.compile(
    rf"{GROUP_PLACEHOLDER}\s+(?:[\w'’]+\s+){{0,4}}?"
    r"(?:should|must|ought to|deserve to|deserves to|need to|needs to|have to|has to|are to|want to be|"
    r"can all|could all|will all)\s+(?:all\s+|just\s+|really\s+|simply\s+)?(?:be|get)\s+(?:all\s+)?"
    rf"{_any(VIOLENT_PARTICIPLES)}"
    rf"|(?:time|better if|better off if|rather see|like to see|love to see|wish)\s+(?:that\s+)?(?:the\s+)?"
    rf"{_TO_GROUP}\s+(?:were|was|got|get|being)\s+(?:all\s+)?{_any(VIOLENT_PARTICIPLES)}"
    rf"|{_TO_GROUP}\s+(?:[\w'’]+\s+){{0,6}}?(?:and|then)\s+(?:have|get|see)\s+them\s+(?:all\s+)?"
    rf"{_any(VIOLENT_PARTICIPLES)}"
)


def stated_hostility(folded: str) -> tuple[int, int, int]:
    """Count what the writer says they feel or will do, or wish done, said plainly (not quoted,
    reported or negated): loathing aimed at a named group ("I despise X", "X revolt me", "nothing
    but contempt for X"); violence the writer says they will do to someone ("I'm going to stab as
    many of them as I can"); and violence wished on a named group ("X should all be hanged", "it's
    time X were wiped out"). The verbs pool into one column each, so a verb the corpus seldom uses
    weighs what the others taught.
    """
    text = _model_text(folded, True, False)
    counts = [0, 0, 0]
    words = set(_WORD.findall(text))
    for column, pattern in enumerate((_AVERSION, _INTENT, _WISHED)):
        # Most comments hold none of the words a pattern needs: a set lookup rules it out.
        if words.isdisjoint(_NEEDED[column]) or (column != 1 and GROUP_PLACEHOLDER not in words):
            continue
        for match in pattern.finditer(text):
            if _said_by_writer(text, match):
                counts[column] += 1
    return counts[0], counts[1], counts[2]


def _first_words(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(_WORD.findall(entry)[0] for entry in entries)


# A word each pattern cannot match without: a verb or noun of its lists.
_NEEDED = (
    _first_words((*AVERSION_VERBS, *AVERSION_FELT_VERBS, *AVERSION_FELT, *AVERSION_NOUNS)),
    _first_words(VIOLENT_VERBS),
    _first_words(VIOLENT_PARTICIPLES),
)
_NOT_NEGATIONS = re.compile(r"(?<!\w)(?:nothing|none|no one|nobody) but(?!\w)")


def _said_by_writer(text: str, match: re.Match[str]) -> bool:
    """Whether a match is the writer's own statement: not negated inside or before it in its
    clause, not in quotation marks and not what the writer reports someone else said."""
    if _NEGATION.search(_NOT_NEGATIONS.sub("", match.group())):
        return False
    start = max((m.end() for m in _SENTENCE.finditer(text, 0, match.start())), default=0)
    sentence = text[start:]
    at = match.start() - start
    if _negated(sentence, at) or _reported(sentence, at):
        return False
    return not any(a <= match.start() < b for a, b in (m.span() for m in _QUOTED.finditer(text)))


# A comment is as abusive as its most abusive clause. Hate after a friendly opener ("Great photos!
# They should all be shot.") or inside a relative clause is diluted in the whole comment's n-grams;
# the model scores such clauses on their own too (ModelBundle.score_many, analyze) and keeps the
# highest toxicity. Only clauses of a few words that use a word from our lists are scored again.
_CLAUSE_SPLIT = re.compile(
    r"(?<=[.!?;:])\s+|,\s+(?=(?:who|which|because|although|though|since|unless|but|while|and)\b)",
    re.IGNORECASE,
)
MIN_CLAUSE_WORDS = 3


@lru_cache(maxsize=256)
def _listed_counts(folded: str) -> tuple[int, ...]:
    # Cached: the structural features and the clause test of one comment read the same counts.
    return tuple(lexicon_counts(folded).values())


def _uses_listed_word(folded: str) -> bool:
    return any(_listed_counts(folded)) or bool(HOSTILE_PATTERN.search(folded))


def clause_parts(record: PreparedRecord) -> list[PreparedRecord]:
    """The clauses of a comment of several that are scored on their own (see above); often none."""
    if not _uses_listed_word(_repaired(record.folded)):
        return []
    pieces = _CLAUSE_SPLIT.split(record.cleaned)
    if len(pieces) < 2:
        return []
    parts = []
    for piece in pieces:
        folded = fold(piece)
        repaired = _repaired(folded)
        # Words counted as repaired: "Pakistanis arebeasts." is a clause of three words.
        if len(repaired.split()) < MIN_CLAUSE_WORDS:
            continue
        if _uses_listed_word(repaired):
            parts.append(PreparedRecord(folded, piece, record.name, record.email, record.url))
    return parts


class Structural(BaseEstimator, TransformerMixin):
    """Links, domains, money and phone patterns, casing, repetition and length."""

    def fit(self, records: Iterable[PreparedRecord], y: Any = None) -> Structural:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def transform(self, records: Iterable[PreparedRecord]) -> sp.csr_matrix:
        return sp.csr_matrix(np.array([structural_row(r) for r in records], dtype=np.float64))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"structure:{n}" for n in STRUCTURAL_NAMES], dtype=object)


_NEGATION = re.compile(r"(?<!\w)(?:" + "|".join(NEGATION_CUES) + r")(?!\w)|n't(?!\w)")
_CLAUSE_END = re.compile(r"[.,;:!?()\"]|(?<!\w)(?:but|and|because|while|although|though)(?!\w)")
_SCOPE_WORDS = 4


class ModelText:
    """What the n-gram vectorizers read: the folded text, with group names and negation handled.

    ``mask_groups`` replaces every name of an identity group (religions, peoples, nationalities,
    genders, orientations, disabilities, ages) by one shared placeholder, so no group's name can
    carry weight of its own: what is said about the group decides. ``negation`` marks the words
    that follow a negation cue up to the end of the clause ("never say they are vermin" reads
    ``never neg_say neg_they ...``), so negated hate and negated praise get columns of their own.
    """

    def __init__(self, mask_groups: bool = True, negation: bool = False, group_context: bool = False) -> None:
        self.mask_groups = mask_groups
        self.negation = negation
        self.group_context = group_context

    def __call__(self, record: PreparedRecord) -> str:
        return _model_text(record.folded, self.mask_groups, self.negation, self.group_context)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelText) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((self.mask_groups, self.negation, self.group_context))


def mark_negation(text: str) -> str:
    """Prefix the words after a negation cue, up to the clause's end, with ``neg_``."""
    out: list[str] = []
    position = 0
    for cue in _NEGATION.finditer(text):
        if cue.start() < position:
            continue
        end = _CLAUSE_END.search(text, cue.end())
        stop = end.start() if end else len(text)
        scope = text[cue.end() : stop]
        words = scope.split(" ")
        marked, counted = [], 0
        for word in words:
            if word and counted < _SCOPE_WORDS:
                word = "neg_" + word
                counted += 1
            marked.append(word)
        out.append(text[position : cue.end()])
        out.append(" ".join(marked))
        position = stop
    out.append(text[position:])
    return "".join(out)


_GROUP_WORDS = re.compile(r"[^\W\d_]+")
# Words that join a group to what is said of it and say nothing themselves.
_LINKS = frozenset(
    "are is was were be been being all the a an of these those they them their just so very and or to at "
    "in on for with that who which it its by from as i me my we us our".split()
)
_CONTEXT_AFTER = 3
_CONTEXT_BEFORE = 2


def group_context(text: str) -> str:
    """Tokens pairing each group placeholder with the content words around it.

    "we should deport xgroupx, they are vermin" gains ``grp_deport`` and ``grp_vermin``: what is said
    of a group gets columns of its own, apart from the same words said of anything else.
    """
    words = _GROUP_WORDS.findall(text)
    tokens = []
    for i, word in enumerate(words):
        if word != GROUP_PLACEHOLDER:
            continue
        content = lambda span: [w for w in span if w not in _LINKS and w != GROUP_PLACEHOLDER]  # noqa: E731
        after = content(words[i + 1 : i + 8])[:_CONTEXT_AFTER]
        before = content(words[max(0, i - 5) : i])
        tokens += [f"grp_{w}" for w in after + before[-_CONTEXT_BEFORE:]]
    return " ".join(tokens)


@lru_cache(maxsize=256)
def _repaired(folded: str) -> str:
    return repair_disguises(plain_senses(folded))


@lru_cache(maxsize=256)
def _masked(folded: str) -> str:
    return mask_group_names(_repaired(folded), GROUP_PLACEHOLDER)


@lru_cache(maxsize=256)
def _model_text(folded: str, masked: bool, negation: bool, context: bool = False) -> str:
    # Cached: the word and the character block, the group features and the aimed-abuse count all
    # read the same record's text in turn; the masking pass is shared by every variant.
    text = _masked(folded) if masked else folded
    extra = group_context(text) if context and masked else ""
    if negation:
        text = mark_negation(text)
    return f"{text} {extra}" if extra else text


def _word_block(preprocessor: ModelText) -> TfidfVectorizer:
    """A word 1-2-gram TF-IDF block over what preprocessor makes of a record."""
    return TfidfVectorizer(
        preprocessor=preprocessor,
        lowercase=False,
        token_pattern=r"(?u)\b\w+\b",
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        max_features=100_000,
        dtype=np.float64,
    )


def build_features(
    seed: int = 0,
    mask_groups: bool = True,
    negation: bool = False,
    group_context: bool = False,
    plain_words: bool = False,
) -> Pipeline:
    """Return the unfitted feature pipeline shared by every head.

    ``plain_words`` adds a second word 1-2-gram block that reads the words as written (group names
    still masked), without negation marks or group-context tokens: "not honest" is also "honest",
    so the words the negation scope renames keep the weight they carry elsewhere.
    """
    plain = [("plain", _word_block(ModelText(mask_groups, negation=False)))]
    return Pipeline(
        [
            ("prepare", Prepare()),
            (
                "union",
                FeatureUnion(
                    [
                        ("word", _word_block(ModelText(mask_groups, negation, group_context))),
                        (
                            "char",
                            TfidfVectorizer(
                                preprocessor=ModelText(mask_groups, negation=False),
                                lowercase=False,
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                min_df=2,
                                sublinear_tf=True,
                                max_features=150_000,
                                dtype=np.float64,
                            ),
                        ),
                        *(plain if plain_words and negation else []),
                        ("structure", Structural()),
                    ]
                ),
            ),
        ]
    )
