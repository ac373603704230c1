"""The functional and identity test suite: generating its cases from templates, scoring and reporting."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation.classifier.bundle import HEADS, ModelBundle
from moderation.config import ConfigError, Settings, data_root
from moderation.pipeline.domain import Thresholds
from moderation.pipeline.policy import decide

# Suites are data shipped with the code, next to the corpus but never read by training. A name is
# looked up under the configured model folder first (the Docker image copies them to /app/model).
SUITES_DIR = data_root() / "model" / "suites"
DEFAULT_EMAIL = "reader@example.org"
# Every case is sent under one ordinary name, so only the text (and, for spam_domains, the
# e-mail domain) differs between cases.
AUTHOR_NAME = "Sam Taylor"
STOP_OUTCOMES = frozenset({"hold", "reject"})
SPAM_FUNCTIONALITY = "spam_domains"
BIAS_POWER = -5.0
BIAS_WEIGHT = 0.25
WORST_PER_FUNCTIONALITY = 5
BIAS_METRICS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_KEY = re.compile(r"\[\[(.+?)\]\]")
_IDENTITY_FIELDS = ("identity_plural", "identity_singular", "identity_adj")
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0"}
_LEET_CONSONANTS = {"s": "5", "t": "7"}
# Cyrillic letters drawn like Latin ones: the disguise a reader cannot see.
_LOOKALIKE = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"}
_SEPARATORS = "-._"


class SuiteError(ValueError):
    """A suite's files are missing or inconsistent."""


@dataclass(frozen=True)
class SuiteCase:
    """One comment of the suite and the verdict the service should reach on it."""

    id: str
    functionality: str
    expected: str  # "stop" (hold or reject) or "pass" (approve)
    text: str
    identity: str | None = None
    category: str | None = None
    email: str = DEFAULT_EMAIL
    disguise: str | None = None
    template: str = ""
    source: str | None = None  # for a disguised case, the id of the case it disguises

    def record(self) -> dict[str, str]:
        return {"text": self.text, "email": self.email, "name": AUTHOR_NAME}


def _stable(*parts: str) -> int:
    """A hash that is the same in every process (Python's str hash is salted)."""
    return zlib.crc32("\x1f".join(parts).encode("utf-8"))


def _case_id(functionality: str, text: str, email: str) -> str:
    digest = hashlib.sha1(f"{text}\x00{email}".encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{functionality}-{digest}"


def _suite_roots() -> list[Path]:
    """Where suite names are looked up: the configured model folder's suites/, then the repository's."""
    roots = []
    try:
        roots.append(Path(Settings.load().model_dir) / "suites")
    except ConfigError:
        pass  # a broken setting is reported by whatever uses it; the repository's suites still resolve
    return [*roots, SUITES_DIR] if SUITES_DIR not in roots else roots


def suite_dir(name_or_path: str | Path) -> Path:
    """Resolve a suite name (a folder of <model dir>/suites/) or a path to the suite's folder."""
    if isinstance(name_or_path, str) and "/" not in name_or_path and not Path(name_or_path).is_absolute():
        candidates = [root / name_or_path for root in _suite_roots()]
    else:
        candidates = [Path(name_or_path)]
    for path in candidates:
        if (path / "templates.toml").is_file():
            return path
    raise SuiteError(f"no suite at {' or '.join(map(str, candidates))} (expected templates.toml there)")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(f"{path}: {exc}") from None


@dataclass
class _Rendered:
    text: str
    key: tuple[int, int] | None  # span of the hateful key word in text


def _capitalise(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :]
    return text


def _render(template: str, values: Mapping[str, str], where: str) -> _Rendered:
    try:
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    except KeyError as exc:
        raise SuiteError(f"{where}: unknown placeholder {exc.args[0]!r}") from None
    if template.lstrip("\"'[").startswith("{"):
        text = _capitalise(text)
    parts: list[str] = []
    key = None
    length = 0
    pos = 0
    for match in _KEY.finditer(text):
        before = text[pos : match.start()]
        parts += [before, match.group(1)]
        length += len(before)
        if key is None:
            key = (length, length + len(match.group(1)))
        length += len(match.group(1))
        pos = match.end()
    parts.append(text[pos:])
    return _Rendered("".join(parts), key)


@dataclass
class _Spec:
    """One functionality's table of templates.toml."""

    name: str
    expected: str
    templates: list[dict[str, Any]]
    per_identity: int | None
    cap: int | None


def _specs(data: Mapping[str, Any]) -> list[_Spec]:
    specs = []
    for name, table in data.items():
        if name == "disguises":
            continue
        expected = table.get("expected")
        if expected not in ("stop", "pass"):
            raise SuiteError(f"functionality {name}: expected must be 'stop' or 'pass', not {expected!r}")
        templates = [t if isinstance(t, dict) else {"text": t} for t in table.get("templates", [])]
        if not templates:
            raise SuiteError(f"functionality {name} has no templates")
        specs.append(_Spec(name, expected, templates, table.get("per_identity"), table.get("cap")))
    return specs


class _Builder:
    """Renders every functionality of one suite folder into cases."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        identities = _read_toml(folder / "identities.toml")
        self.terms: dict[str, dict[str, str]] = identities.get("terms", {})
        self.groups: dict[str, list[str]] = identities.get("groups", {})
        self.fillers: dict[str, list[str]] = _read_toml(folder / "fillers.toml")
        self.slurs: list[dict[str, str]] = _read_toml(folder / "slurs.toml").get("slur", [])
        self.templates = _read_toml(folder / "templates.toml")
        self.spam = _read_toml(folder / "spam.toml")
        for key, term in self.terms.items():
            missing = {"category", "singular", "plural", "adj"} - set(term)
            if missing:
                raise SuiteError(f"identity {key} lacks {', '.join(sorted(missing))}")
        self.cases: list[SuiteCase] = []
        self.keys: dict[str, tuple[int, int]] = {}
        self._seen: set[str] = set()

    def _values(self, placeholders: Iterable[str], *salt: str) -> dict[str, str]:
        """Pick one value per filler placeholder, deterministically from salt."""
        values = {}
        for name in placeholders:
            if name in self.fillers:
                values[name] = self.fillers[name][_stable(name, *salt) % len(self.fillers[name])]
        return values

    def _add(self, spec_name: str, expected: str, rendered: _Rendered, template: str, **extra: Any) -> bool:
        email = extra.get("email", DEFAULT_EMAIL)
        case_id = _case_id(spec_name, rendered.text, email)
        if case_id in self._seen:
            return False  # the same text (and address) twice in one functionality counts once
        self._seen.add(case_id)
        self.cases.append(SuiteCase(case_id, spec_name, expected, rendered.text, template=template, **extra))
        if rendered.key:
            self.keys[case_id] = rendered.key
        return True

    def build(self) -> list[SuiteCase]:
        for spec in _specs(self.templates):
            if spec.per_identity:
                self._identity_cases(spec)
            else:
                self._plain_cases(spec)
        self._spam_cases()
        self._disguised_cases(self.templates.get("disguises", {}))
        return self.cases

    def _term_values(self, key: str) -> dict[str, str]:
        term = self.terms[key]
        return {"identity_plural": term["plural"], "identity_singular": term["singular"],
                "identity_adj": term["adj"]}  # fmt: skip

    def _identity_cases(self, spec: _Spec) -> None:
        general: list[tuple[int, dict[str, Any]]] = []
        for number, template in enumerate(spec.templates):
            template_id = f"{spec.name}.{number:02d}"
            if "identity" in template:
                key = template["identity"]
                if key not in self.terms:
                    raise SuiteError(f"{template_id}: unknown identity {key!r}")
                values = {**self._term_values(key), **self._values(_PLACEHOLDER.findall(template["text"]),
                                                                   template_id, key)}  # fmt: skip
                rendered = _render(template["text"], values, template_id)
                self._add(spec.name, spec.expected, rendered, template_id, identity=key,
                          category=self.terms[key]["category"])  # fmt: skip
            else:
                general.append((number, template))
        for index, key in enumerate(self.terms):
            eligible = [
                (n, t) for n, t in general if "group" not in t or key in self.groups.get(t["group"], ())
            ]
            if not eligible:
                continue
            added = 0
            for offset in range(len(eligible)):
                if added == spec.per_identity:
                    break
                number, template = eligible[(index * spec.per_identity + offset) % len(eligible)]
                template_id = f"{spec.name}.{number:02d}"
                placeholders = _PLACEHOLDER.findall(template["text"])
                values = {**self._term_values(key), **self._values(placeholders, template_id, key)}
                rendered = _render(template["text"], values, template_id)
                added += self._add(spec.name, spec.expected, rendered, template_id, identity=key,
                                   category=self.terms[key]["category"])  # fmt: skip

    def _expansions(self, template: str) -> Iterable[dict[str, str]]:
        """Every combination of filler values (and slurs) a template without identity can take."""
        names = sorted(set(_PLACEHOLDER.findall(template)))
        slot_names = [n for n in names if not n.startswith("slur_")]
        slots = []
        for name in slot_names:
            if name not in self.fillers:
                raise SuiteError(f"template {template!r}: unknown placeholder {name!r}")
            slots.append(self.fillers[name])
        slur_choices: list[dict[str, str]] = [{}]
        if any(n.startswith("slur_") for n in names):
            slur_choices = [{"slur_singular": f"[[{s['singular']}]]", "slur_plural": f"[[{s['plural']}]]"}
                            for s in self.slurs]  # fmt: skip
        for combo in itertools.product(*slots):
            for slur in slur_choices:
                yield {**dict(zip(slot_names, combo, strict=True)), **slur}

    def _plain_cases(self, spec: _Spec) -> None:
        per_template: list[list[tuple[str, _Rendered]]] = []
        for number, template in enumerate(spec.templates):
            template_id = f"{spec.name}.{number:02d}"
            rendered = [_render(template["text"], v, template_id) for v in self._expansions(template["text"])]
            rendered.sort(key=lambda r: _stable(template_id, r.text))
            per_template.append([(template_id, r) for r in rendered])
        cap = spec.cap or sum(map(len, per_template))
        added = 0
        # Round-robin over templates so a cap keeps every wording, not the first templates only.
        for row in itertools.zip_longest(*per_template):
            for item in row:
                if item is not None and added < cap:
                    added += self._add(spec.name, spec.expected, item[1], item[0])

    def _spam_cases(self) -> None:
        if not self.spam:
            return
        domains = self.spam.get("domains", [])
        local = self.spam.get("local_part", "reader")
        for expected in ("stop", "pass"):
            for number, text in enumerate(self.spam.get(expected, [])):
                template_id = f"{SPAM_FUNCTIONALITY}.{expected}.{number:02d}"
                for domain in domains:
                    self._add(SPAM_FUNCTIONALITY, expected, _Rendered(text, None), template_id,
                              email=f"{local}@{domain}")  # fmt: skip

    def _disguised_cases(self, config: Mapping[str, Any]) -> None:
        sources = set(config.get("sources", ()))
        per_kind = int(config.get("per_disguise", 0))
        candidates = [c for c in self.cases if c.functionality in sources and c.id in self.keys]
        for kind in config.get("kinds", ()):
            if kind not in DISGUISES:
                raise SuiteError(f"unknown disguise {kind!r}; known: {', '.join(DISGUISES)}")
            ordered = sorted(candidates, key=lambda c: (_stable(kind, c.id), c.id))
            added = 0
            for case in ordered:
                if added >= per_kind:
                    break
                text = disguise(kind, case.text, self.keys[case.id], case.id)
                if text is None or text == case.text:
                    continue
                added += self._add(
                    f"disguise_{kind}", "stop", _Rendered(text, None), case.template,
                    identity=case.identity, category=case.category, disguise=kind, source=case.id,
                )  # fmt: skip


def _drop_letter(word: str, salt: str) -> str | None:
    if len(word) < 4:
        return None
    i = len(word) // 2
    return word[:i] + word[i + 1 :]


def _swap_letters(word: str, salt: str) -> str | None:
    if len(word) < 4:
        return None
    for i in [len(word) // 2 - 1, *range(1, len(word) - 2)]:
        if word[i] != word[i + 1] and word[i].isalpha() and word[i + 1].isalpha():
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return None


def _add_space(word: str, salt: str) -> str | None:
    if len(word) < 4:
        return None
    i = len(word) // 2
    return word[:i] + " " + word[i:]


def _leet(word: str, salt: str) -> str | None:
    table = _LEET if any(ch in _LEET for ch in word) else _LEET_CONSONANTS
    out = "".join(table.get(ch, ch) for ch in word)
    # A word with no letter left is a number to the normalizer, not a disguised word.
    return out if out != word and any(ch.isalpha() for ch in out) else None


def _lookalike(word: str, salt: str) -> str | None:
    out = "".join(_LOOKALIKE.get(ch, ch) for ch in word)
    return out if out != word else None


def _separate(word: str, salt: str) -> str | None:
    if len(word) < 3 or " " in word:
        return None
    return _SEPARATORS[_stable("separator", salt) % len(_SEPARATORS)].join(word)


_WORD_DISGUISES: dict[str, Callable[[str, str], str | None]] = {
    "letter_dropped": _drop_letter,
    "letters_swapped": _swap_letters,
    "space_added": _add_space,
    "leet": _leet,
    "unicode_lookalike": _lookalike,
    "separators": _separate,
}
DISGUISES = (*_WORD_DISGUISES, "space_removed")


def disguise(kind: str, text: str, key: tuple[int, int], salt: str = "") -> str | None:
    """Apply one spelling disguise to the key word text[key[0]:key[1]]; None when it does not apply."""
    start, end = key
    if kind == "space_removed":
        # Glue the key word to its neighbour: "are vermin" -> "arevermin".
        if start > 0 and text[start - 1] == " ":
            return text[: start - 1] + text[start:]
        if end < len(text) and text[end] == " ":
            return text[:end] + text[end + 1 :]
        return None
    changed = _WORD_DISGUISES[kind](text[start:end], salt)
    return None if changed is None else text[:start] + changed + text[end:]


def build_cases(folder: Path) -> list[SuiteCase]:
    """Generate every case of the suite in folder (uncached; load_suite caches)."""
    return _Builder(Path(folder)).build()


@lru_cache(maxsize=8)
def _load(folder: Path) -> tuple[SuiteCase, ...]:
    return tuple(build_cases(folder))


def load_suite(name_or_path: str | Path = "functional") -> list[SuiteCase]:
    """Generate every case of a suite (a name in model/suites/ or a folder), deterministically."""
    return list(_load(suite_dir(name_or_path).resolve()))


# --- metrics ---------------------------------------------------------------------------------


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    if labels.size == 0 or labels.min() == labels.max():
        return None
    return float(roc_auc_score(labels, scores))


def bias_aucs(
    identities: Sequence[str], labels: Sequence[int], scores: Sequence[float]
) -> dict[str, dict[str, float | None]]:
    """Borkan et al. (2019) per identity: subgroup, BPSN and BNSP ROC-AUC.

    Subgroup AUC ranks the identity's own abusive cases against its own civil ones. BPSN
    (background positive, subgroup negative) ranks abusive cases of the other identities against
    this identity's civil cases: low when civil mentions of the group score like abuse. BNSP
    (background negative, subgroup positive) ranks this identity's abusive cases against the other
    identities' civil ones: low when abuse of the group scores like civil text. A metric is None
    when one of its two sides is empty.
    """
    ids = np.asarray(identities, dtype=object)
    y = np.asarray(labels, dtype=int)
    p = np.asarray(scores, dtype=float)
    out: dict[str, dict[str, float | None]] = {}
    for key in dict.fromkeys(identities):
        inside = ids == key
        bpsn = (~inside & (y == 1)) | (inside & (y == 0))
        bnsp = (~inside & (y == 0)) | (inside & (y == 1))
        out[key] = {
            "subgroup_auc": _auc(y[inside], p[inside]),
            "bpsn_auc": _auc(y[bpsn], p[bpsn]),
            "bnsp_auc": _auc(y[bnsp], p[bnsp]),
        }
    return out


def generalized_mean(values: Iterable[float], power: float = BIAS_POWER) -> float:
    """The power mean M_p = (1/N sum v_i^p)^(1/p); p = -5 leans towards the worst values."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        raise ValueError("generalized mean of nothing")
    if np.any(v <= 0):
        return 0.0  # the limit of M_p for p < 0 as any value goes to 0
    return float(np.mean(v**power) ** (1.0 / power))


def bias_score(
    overall_auc: float,
    per_identity: Mapping[str, Mapping[str, float | None]],
    power: float = BIAS_POWER,
    weight: float = BIAS_WEIGHT,
) -> dict[str, float]:
    """Overall AUC and the power mean of each bias AUC over identities, combined with equal weights.

    final = w * overall_auc + sum over the three metrics of w * M_p(metric over identities), with
    w = 0.25, as in the Jigsaw unintended-bias benchmark built on Borkan et al.; identities where
    a metric is undefined are left out of that metric's mean.
    """
    result = {"overall_auc": overall_auc, "power": power}
    final = weight * overall_auc
    for metric in BIAS_METRICS:
        values = [m[metric] for m in per_identity.values() if m.get(metric) is not None]
        mean = generalized_mean(values, power) if values else float("nan")
        result[f"mean_{metric}"] = mean
        final += weight * mean
    result["final"] = final
    return result


# --- running ---------------------------------------------------------------------------------


def _r(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class SuiteResult:
    """Every case's scores and outcome, and the summary computed from them."""

    model: str
    cases: list[SuiteCase]
    scores: dict[str, np.ndarray]
    outcomes: list[str]
    thresholds: Thresholds
    worst_per_functionality: int = WORST_PER_FUNCTIONALITY
    summary: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.summary = _summarize(self)

    def stopped(self, i: int) -> bool:
        return self.outcomes[i] in STOP_OUTCOMES

    def correct(self, i: int) -> bool:
        return self.stopped(i) == (self.cases[i].expected == "stop")

    def as_dict(self, include_worst: bool = True) -> dict[str, Any]:
        """The summary as JSON-able data (the worst cases quote comment text: leave them out of manifests)."""
        data = json.loads(json.dumps(self.summary))
        if not include_worst:
            data.pop("worst", None)
        return data


def run_suite(
    bundle: ModelBundle,
    cases: Sequence[SuiteCase],
    thresholds: Thresholds,
    worst: int = WORST_PER_FUNCTIONALITY,
) -> SuiteResult:
    """Score every case in one batch and decide each with the service's policy (no rule checks)."""
    if not cases:
        raise SuiteError("the suite has no cases")
    scores = bundle.score_many([c.record() for c in cases])
    outcomes = [
        decide([], {h: float(scores[h][i]) for h in HEADS}, thresholds).outcome.value
        for i in range(len(cases))
    ]
    return SuiteResult(bundle.version, list(cases), scores, outcomes, thresholds, worst)


def _wrongness(result: SuiteResult, i: int) -> float:
    """How far from the right side of its hold threshold a wrongly decided case was."""
    gaps = [float(result.scores[h][i]) - result.thresholds.hold(h) for h in HEADS]
    return -max(gaps) if result.cases[i].expected == "stop" else max(gaps)


_COUNTS = ("cases", "correct", "pass_cases", "false_holds", "stop_cases", "missed")


def _summarize(result: SuiteResult) -> dict[str, Any]:
    cases = result.cases
    n = len(cases)
    functionalities: dict[str, dict[str, Any]] = {}
    for i, case in enumerate(cases):
        f = functionalities.setdefault(case.functionality, {"expected": set(), "cases": 0, "correct": 0,
                                                            "stopped": 0})  # fmt: skip
        f["expected"].add(case.expected)
        f["cases"] += 1
        f["correct"] += result.correct(i)
        f["stopped"] += result.stopped(i)
    for f in functionalities.values():
        f["expected"] = f["expected"].pop() if len(f["expected"]) == 1 else "mixed"
        f["wrong"] = f["cases"] - f["correct"]
        f["pass_rate"] = _rate(f["correct"], f["cases"])

    identity_rows = [i for i, c in enumerate(cases) if c.identity]
    identities: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, Any]] = {}
    for i in identity_rows:
        case = cases[i]
        for table, key in ((identities, case.identity), (categories, case.category)):
            row = table.setdefault(key, {"category": case.category, **dict.fromkeys(_COUNTS, 0)})
            row["cases"] += 1
            row["correct"] += result.correct(i)
            if case.expected == "pass":
                row["pass_cases"] += 1
                row["false_holds"] += result.stopped(i)
            else:
                row["stop_cases"] += 1
                row["missed"] += not result.stopped(i)
    for table in (identities, categories):
        for row in table.values():
            row["pass_rate"] = _rate(row["correct"], row["cases"])
            row["false_hold_rate"] = _rate(row["false_holds"], row["pass_cases"])
            row["missed_rate"] = _rate(row["missed"], row["stop_cases"])
    for row in categories.values():
        row.pop("category")

    toxicity = np.asarray(result.scores["toxicity"], dtype=float)
    labels = np.array([cases[i].expected == "stop" for i in identity_rows], dtype=int)
    bias: dict[str, Any] = {"cases": len(identity_rows), "score": "toxicity"}
    if identity_rows:
        ids = [cases[i].identity for i in identity_rows]
        per_identity = bias_aucs(ids, labels, toxicity[identity_rows])
        for key, metrics in per_identity.items():
            identities[key].update({m: _r(v) for m, v in metrics.items()})
        overall = _auc(labels, toxicity[identity_rows])
        if overall is not None:
            bias.update({k: _r(v) for k, v in bias_score(overall, per_identity).items()})

    stop_rows = [
        i for i, c in enumerate(cases) if c.expected == "stop" and c.functionality != SPAM_FUNCTIONALITY
    ]
    pass_rows = [
        i for i, c in enumerate(cases) if c.expected == "pass" and c.functionality != SPAM_FUNCTIONALITY
    ]
    hateful_stopped = sum(result.stopped(i) for i in stop_rows)
    contrasts_approved = sum(not result.stopped(i) for i in pass_rows)

    spam: dict[str, Any] = {}
    spam_rows = [i for i, c in enumerate(cases) if c.functionality == SPAM_FUNCTIONALITY]
    if spam_rows:
        verdicts: dict[str, set[bool]] = {}
        for i in spam_rows:
            verdicts.setdefault(cases[i].template, set()).add(result.stopped(i))
        differing = sorted(t for t, v in verdicts.items() if len(v) > 1)
        spam = {
            "texts": len(verdicts),
            "domains": len({cases[i].email for i in spam_rows}),
            "differing_texts": len(differing),
            "differing": differing,
            "spam_stopped_rate": _rate(
                sum(result.stopped(i) for i in spam_rows if cases[i].expected == "stop"),
                sum(cases[i].expected == "stop" for i in spam_rows),
            ),
            "civil_approved_rate": _rate(
                sum(not result.stopped(i) for i in spam_rows if cases[i].expected == "pass"),
                sum(cases[i].expected == "pass" for i in spam_rows),
            ),
        }

    rated = [
        (row["false_hold_rate"], key) for key, row in identities.items() if row["false_hold_rate"] is not None
    ]
    worst_hold = max(rated) if rated else (None, None)

    worst: dict[str, list[dict[str, Any]]] = {}
    for name in functionalities:
        wrong = [i for i, c in enumerate(cases) if c.functionality == name and not result.correct(i)]
        wrong.sort(key=lambda i: (-_wrongness(result, i), cases[i].id))
        worst[name] = [
            {
                "id": cases[i].id,
                "expected": cases[i].expected,
                "outcome": result.outcomes[i],
                **{h: round(float(result.scores[h][i]), 4) for h in HEADS},
                "identity": cases[i].identity,
                "email": cases[i].email,
                "text": cases[i].text,
            }
            for i in wrong[: result.worst_per_functionality]
        ]

    return {
        "model": result.model,
        "cases": n,
        "thresholds": result.thresholds.as_dict(),
        "hateful_stopped": {
            "cases": len(stop_rows),
            "stopped": hateful_stopped,
            "rate": _rate(hateful_stopped, len(stop_rows)),
        },  # fmt: skip
        "contrasts_approved": {
            "cases": len(pass_rows),
            "approved": contrasts_approved,
            "rate": _rate(contrasts_approved, len(pass_rows)),
        },  # fmt: skip
        "worst_false_hold": {"identity": worst_hold[1], "rate": worst_hold[0]},
        "functionalities": dict(sorted(functionalities.items(), key=lambda kv: (_order(kv[1]), kv[0]))),
        "identities": identities,
        "categories": categories,
        "bias": bias,
        "spam_domains": spam,
        "worst": worst,
    }


def _order(row: Mapping[str, Any]) -> int:
    return {"stop": 0, "mixed": 1, "pass": 2}[row["expected"]]


# --- reporting -------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def escape_markdown(text: str) -> str:
    """Comment text made inert inside a Markdown table cell: no HTML, no markup, one line."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"\r\n|\r|\n|\u2028|\u2029", "<br>", text)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_of(result: SuiteResult | Mapping[str, Any]) -> Mapping[str, Any]:
    return result.summary if isinstance(result, SuiteResult) else result


def functionality_table(result: SuiteResult | Mapping[str, Any]) -> str:
    """A plain-text table of pass rates per functionality, for a terminal."""
    s = summary_of(result)
    width = max(len(name) for name in s["functionalities"])
    lines = [f"{'functionality':<{width}}  expected  cases  pass rate"]
    for name, f in s["functionalities"].items():
        lines.append(f"{name:<{width}}  {f['expected']:<8}  {f['cases']:>5}  {_pct(f['pass_rate']):>9}")
    lines.append(
        f"hateful or abusive stopped: {_pct(s['hateful_stopped']['rate'])}; "
        f"contrasts approved: {_pct(s['contrasts_approved']['rate'])}; "
        f"worst false-hold rate: {_pct(s['worst_false_hold']['rate'])} "
        f"({s['worst_false_hold']['identity']}); "
        f"bias score: {_num(s['bias'].get('final'))}"
    )
    if s["spam_domains"]:
        sd = s["spam_domains"]
        lines.append(f"spam_domains: {sd['differing_texts']} of {sd['texts']} texts get different verdicts "
                     f"across {sd['domains']} domains")  # fmt: skip
    return "\n".join(lines)


def render_suite(result: SuiteResult | Mapping[str, Any], level: int = 2, heatmap: str | None = None) -> str:
    """The suite as a Markdown section: functionalities, identities, bias metrics, worst cases."""
    s = summary_of(result)
    h = "#" * level
    bias = s["bias"]
    lines = [
        f"{h} Functional suite",
        "",
        f"Model {s['model']}, {s['cases']} cases, each decided by the policy from the classifier's scores "
        "alone (no rule checks). Pass rate is the share of cases with the expected verdict: stop "
        "(hold or reject) or pass (approve).",
        "",
        f"- hateful or abusive cases stopped: {_pct(s['hateful_stopped']['rate'])} "
        f"of {s['hateful_stopped']['cases']}",
        f"- contrast cases approved: {_pct(s['contrasts_approved']['rate'])} "
        f"of {s['contrasts_approved']['cases']}",
        f"- worst identity false-hold rate: {_pct(s['worst_false_hold']['rate'])} "
        f"({s['worst_false_hold']['identity'] or '-'})",
        f"- identity-bias score: {_num(bias.get('final'))}",
        "",
        f"{h}# Functionalities",
        "",
        "| functionality | expected | cases | correct | pass rate |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {f['expected']} | {f['cases']} | {f['correct']} | {_pct(f['pass_rate'])} |"
        for name, f in s["functionalities"].items()
    ]
    if s["spam_domains"]:
        sd = s["spam_domains"]
        lines += [
            "",
            f"{h}# The same text from every e-mail domain",
            "",
            f"{sd['texts']} texts, each sent from {sd['domains']} domains: {sd['differing_texts']} texts get "
            f"different verdicts depending on the domain. Spam stopped {_pct(sd['spam_stopped_rate'])}, "
            f"civil comments approved {_pct(sd['civil_approved_rate'])}.",
        ]
        if sd["differing"]:
            lines += [
                "",
                "Templates with differing verdicts: " + ", ".join(f"`{t}`" for t in sd["differing"]),
            ]
    lines += [
        "",
        f"{h}# Identities",
        "",
        "False-hold rate: the share of the identity's cases that should be approved (neutral, positive, "
        "negated hate, counter-speech, self-reference, news) that were held or rejected. Missed: the "
        "share of its hateful cases that were approved.",
        "",
        "| identity | category | cases | pass rate | false holds | false-hold rate | missed rate | "
        "subgroup AUC | BPSN AUC | BNSP AUC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in sorted(s["identities"].items(), key=lambda kv: (kv[1]["category"], kv[0])):
        lines.append(
            f"| {key} | {row['category']} | {row['cases']} | {_pct(row['pass_rate'])} | "
            f"{row['false_holds']}/{row['pass_cases']} | {_pct(row['false_hold_rate'])} | "
            f"{_pct(row['missed_rate'])} | {_num(row.get('subgroup_auc'))} | {_num(row.get('bpsn_auc'))} | "
            f"{_num(row.get('bnsp_auc'))} |"
        )
    lines += [
        "",
        "| category | cases | pass rate | false-hold rate | missed rate |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {key} | {row['cases']} | {_pct(row['pass_rate'])} | {_pct(row['false_hold_rate'])} | "
        f"{_pct(row['missed_rate'])} |"
        for key, row in sorted(s["categories"].items())
    ]
    lines += [
        "",
        f"{h}# Identity-bias metrics (Borkan et al. 2019)",
        "",
        f"On the toxicity score of the {bias['cases']} cases that name an identity (label: expected stop). "
        "Subgroup AUC: the identity's hateful cases against its civil ones. BPSN AUC: other identities' "
        "hateful cases against this identity's civil ones (low = civil mentions look abusive). BNSP AUC: "
        "this identity's hateful cases against other identities' civil ones (low = abuse of the group "
        "looks civil). Each is averaged over identities with the power mean "
        "M_p = (1/N Σ m^p)^(1/p), p = -5, which the worst identities dominate; the score is "
        "0.25 × overall AUC + 0.25 × (M_p subgroup + M_p BPSN + M_p BNSP).",
        "",
        "| overall AUC | M_p subgroup AUC | M_p BPSN AUC | M_p BNSP AUC | score |",
        "|---|---|---|---|---|",
        f"| {_num(bias.get('overall_auc'))} | {_num(bias.get('mean_subgroup_auc'))} | "
        f"{_num(bias.get('mean_bpsn_auc'))} | {_num(bias.get('mean_bnsp_auc'))} | "
        f"{_num(bias.get('final'))} |",
    ]
    if heatmap:
        lines += ["", f"![identity heatmap]({heatmap})"]
    worst = s.get("worst") or {}
    if any(worst.values()):
        lines += [
            "",
            f"{h}# Worst cases",
            "",
            "The most confidently wrong cases of each functionality (furthest on the wrong side of a hold "
            "threshold).",
        ]
        for name, rows in worst.items():
            if not rows:
                continue
            lines += [
                "",
                f"**{name}**",
                "",
                "| expected | outcome | toxicity | spam | identity | sender domain | text |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {r['expected']} | {r['outcome']} | {r['toxicity']:.3f} | {r['spam']:.3f} | "
                f"{r['identity'] or '-'} | {escape_markdown(r['email'].rpartition('@')[2])} | "
                f"{escape_markdown(r['text'])} |"
                for r in rows
            ]
    return "\n".join(lines) + "\n"


HEATMAP_COLUMNS = (
    ("pass rate", "pass_rate"),
    ("civil approved", "false_hold_rate"),
    ("hate stopped", "missed_rate"),
    ("subgroup AUC", "subgroup_auc"),
    ("BPSN AUC", "bpsn_auc"),
    ("BNSP AUC", "bnsp_auc"),
)
_INVERTED = {"false_hold_rate", "missed_rate"}


def suite_heatmap(result: SuiteResult | Mapping[str, Any], path: Path) -> Path:
    """Write a PNG heatmap, identity × metric, every cell scaled so that 1 is good."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary_of(result)
    rows = sorted(s["identities"].items(), key=lambda kv: (kv[1]["category"], kv[0]))
    grid = np.full((len(rows), len(HEATMAP_COLUMNS)), np.nan)
    for r, (_, row) in enumerate(rows):
        for c, (_, key) in enumerate(HEATMAP_COLUMNS):
            value = row.get(key)
            if value is not None:
                grid[r, c] = 1 - value if key in _INVERTED else value
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.24 * len(rows)))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(
        range(len(HEATMAP_COLUMNS)), [label for label, _ in HEATMAP_COLUMNS], rotation=30, ha="right"
    )
    ax.set_yticks(range(len(rows)), [f"{key} ({row['category']})" for key, row in rows], fontsize=7)
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1]):
            if not np.isnan(grid[r, c]):
                ax.text(c, r, f"{grid[r, c]:.2f}", ha="center", va="center", fontsize=6)
    ax.set_title(f"Functional suite by identity, {s['model']}")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90, bbox_inches="tight")  # long identity labels must not be cut off
    plt.close(fig)
    return path


def write_suite(result: SuiteResult, out: Path) -> list[Path]:
    """Write suite.md, suite.json and suite_heatmap.png into out."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    heatmap = suite_heatmap(result, out / "suite_heatmap.png")
    report = out / "suite.md"
    report.write_text(render_suite(result, level=1, heatmap=heatmap.name), encoding="utf-8")
    data = out / "suite.json"
    data.write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [report, data, heatmap]


def evaluate_suite(
    bundle: ModelBundle, cases: Sequence[SuiteCase], thresholds: Thresholds, out: Path | None = None
) -> SuiteResult:
    """Run the suite on bundle and, given a folder, write its report, data and heatmap there."""
    result = run_suite(bundle, cases, thresholds)
    if out is not None:
        write_suite(result, out)
    return result
