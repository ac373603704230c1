"""Deciding whether a candidate model may replace the current one: the promotion gate.

Both models are scored on the same rows: the corpus's fixed held-out split (recomputed from the
corpus, rows neither model was fitted on and that no client can write), every labelled file the
operator names, and the functional suite. On each source, every head the source has both classes
for is compared: ROC-AUC, and at the thresholds each model will run with (its own, or the
configuration's where it sets them) the share of civil comments it holds and rejects and the share
of abusive or spam comments it holds and rejects. The candidate is refused when any of them is
worse beyond the tolerances below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation.classifier.bundle import HEADS, ModelBundle, versions_dir
from moderation.classifier.datasets import Example
from moderation.classifier.split import SPLIT_RULE
from moderation.classifier.suite import SuiteCase, SuiteResult, load_suite, run_suite, summary_of
from moderation.classifier.train import HEAD_LABEL
from moderation.pipeline.domain import Thresholds

# ROC-AUC may fall by at most this much (differences this small are noise between trainings).
AUC_TOLERANCE = 0.003
# The share of civil comments held or rejected may rise by at most one point, and the share of
# abusive or spam comments caught at hold or reject may fall by at most two, or by one comment
# where a source has fewer than 100 (or 50) of them: a single comment is not a trend.
FALSE_RATE_TOLERANCE = 0.01
RECALL_TOLERANCE = 0.02
TOLERANCE = AUC_TOLERANCE  # the name earlier versions exported
# The suite gate: a functionality may lose at most 5 points of pass rate. The worst identity's
# false-hold rate may not rise; a rise of at most half a point is one or two cases out of a
# few hundred, within the run-to-run noise of a retrained model, and is let through.
FUNCTIONALITY_DROP = 0.05
FALSE_HOLD_NOISE = 0.005
_EPS = 1e-9


@dataclass(frozen=True)
class Verdict:
    better_or_equal: bool
    summary: str


@dataclass(frozen=True)
class Comparison:
    """One measure of one head on one source, for both models."""

    source: str
    head: str
    measure: str
    rows: str  # "479 civil, 85 spam"
    candidate: float
    current: float
    limit: float  # the worst the candidate may be: a floor (higher is better) or a ceiling
    higher_is_better: bool

    @property
    def worse(self) -> bool:
        if self.higher_is_better:
            return self.candidate < self.limit - _EPS
        return self.candidate > self.limit + _EPS


@dataclass
class GateResult:
    candidate: str
    current: str
    comparisons: list[Comparison] = field(default_factory=list)
    suite: Verdict | None = None
    notes: list[str] = field(default_factory=list)
    thresholds: dict[str, Thresholds] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(c.worse for c in self.comparisons) and (
            self.suite is None or self.suite.better_or_equal
        )

    @property
    def refusals(self) -> list[str]:
        found = [f"{c.source}: {c.head} {c.measure}" for c in self.comparisons if c.worse]
        if self.suite is not None and not self.suite.better_or_equal:
            found.append("functional suite")
        return found

    def lines(self) -> list[str]:
        return table_lines(self)


@dataclass(frozen=True)
class Source:
    """Labelled rows both models are compared on."""

    name: str
    examples: Sequence[Example]


def _fmt_thresholds(t: Thresholds) -> str:
    parts = []
    for head in HEADS:
        origin = {t.source(head, "hold"), t.source(head, "reject")}
        parts.append(f"{head} hold {t.hold(head):g} reject {t.reject(head):g} ({'/'.join(sorted(origin))})")
    return ", ".join(parts)


def _measures(y: np.ndarray, p: np.ndarray, t: Thresholds, head: str) -> dict[str, float]:
    civil, abusive = p[y == 0], p[y == 1]
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "civil_held": float((civil >= t.hold(head)).mean()),
        "civil_rejected": float((civil >= t.reject(head)).mean()),
        "caught_at_hold": float((abusive >= t.hold(head)).mean()),
        "caught_at_reject": float((abusive >= t.reject(head)).mean()),
    }


MEASURES = {
    # measure: (label in the table, higher is better)
    "roc_auc": ("ROC-AUC", True),
    "civil_held": ("civil held (false holds)", False),
    "civil_rejected": ("civil rejected (false rejects)", False),
    "caught_at_hold": ("recall at hold", True),
    "caught_at_reject": ("recall at reject", True),
}


def compare_source(
    source: Source,
    candidate: ModelBundle,
    current: ModelBundle,
    thresholds: Mapping[str, Thresholds],
) -> list[Comparison]:
    """Compare every head the source has both civil and positive rows for.

    A head's rows are the civil ones (label ham) and its own positives (spam for the spam head,
    toxic for the toxicity head): a spam head that holds a toxic comment is not wrong.
    """
    examples = list(source.examples)
    if not examples:
        return []
    records = [ex.record() for ex in examples]
    scores = {
        candidate.version: candidate.score_many(records),
        current.version: current.score_many(records),
    }
    labels = np.array([ex.label for ex in examples])
    out = []
    for head in HEADS:
        mask = (labels == "ham") | (labels == HEAD_LABEL[head])
        y = (labels[mask] == HEAD_LABEL[head]).astype(int)
        n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
        if not n_pos or not n_neg:
            continue
        new = _measures(y, np.asarray(scores[candidate.version][head])[mask], thresholds["candidate"], head)
        old = _measures(y, np.asarray(scores[current.version][head])[mask], thresholds["current"], head)
        rows = f"{n_neg} civil, {n_pos} {HEAD_LABEL[head]}"
        for measure, (_, higher) in MEASURES.items():
            if measure == "roc_auc":
                slack = AUC_TOLERANCE
            elif measure.startswith("civil"):
                slack = max(FALSE_RATE_TOLERANCE, 1 / n_neg)
            else:
                slack = max(RECALL_TOLERANCE, 1 / n_pos)
            limit = old[measure] - slack if higher else old[measure] + slack
            out.append(
                Comparison(source.name, head, measure, rows, new[measure], old[measure], limit, higher)
            )
    return out


def gate(
    candidate: ModelBundle,
    current: ModelBundle,
    sources: Sequence[Source],
    thresholds_of: Callable[[ModelBundle], Thresholds],
    suite_cases: Sequence[SuiteCase] | None = None,
) -> GateResult:
    """Compare candidate and current on every source and (with cases) on the functional suite."""
    thresholds = {"candidate": thresholds_of(candidate), "current": thresholds_of(current)}
    result = GateResult(candidate.version, current.version, thresholds=thresholds)
    for bundle in (candidate, current):
        rule = bundle.manifest.get("split", {}).get("rule")
        if rule != SPLIT_RULE:
            result.notes.append(
                f"{bundle.version} was not trained with the fixed held-out split ({SPLIT_RULE}); it may "
                "have been fitted on the held-out rows, which flatters it there"
            )
    for source in sources:
        found = compare_source(source, candidate, current, thresholds)
        if not found:
            result.notes.append(f"{source.name}: no head has both civil and positive rows; not compared")
        result.comparisons += found
    if suite_cases:
        ok, lines = compare_suite(
            run_suite(candidate, suite_cases, thresholds["candidate"]),
            run_suite(current, suite_cases, thresholds["current"]),
        )
        result.suite = Verdict(ok, "\n".join(lines))
    return result


def _value(measure: str, value: float) -> str:
    return f"{value:.4f}" if measure == "roc_auc" else f"{value:.1%}"


def table_lines(result: GateResult) -> list[str]:
    """The gate as a plain-text table, one row per source, head and measure."""
    t = result.thresholds
    lines = [
        f"promotion gate: {result.candidate} (candidate) against {result.current} (current)",
        f"  thresholds of {result.candidate}: {_fmt_thresholds(t['candidate'])}",
        f"  thresholds of {result.current}: {_fmt_thresholds(t['current'])}",
    ]
    lines += [f"  note: {note}" for note in result.notes]
    header = ("source", "head", "rows", "measure", "candidate", "current", "limit", "")
    rows = [
        (
            c.source,
            c.head,
            c.rows,
            MEASURES[c.measure][0],
            _value(c.measure, c.candidate),
            _value(c.measure, c.current),
            ("≥ " if c.higher_is_better else "≤ ") + _value(c.measure, min(max(c.limit, 0.0), 1.0)),
            "WORSE" if c.worse else "ok",
        )
        for c in result.comparisons
    ]
    if rows:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines.append("")
        for row in [header, *rows]:
            lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if result.suite is not None:
        lines += ["", result.suite.summary]
    lines.append("")
    if result.ok:
        lines.append(f"gate passed: {result.candidate} is not worse than {result.current} on any of these")
    else:
        lines.append(f"gate refused {result.candidate}, worse on: " + "; ".join(result.refusals))
    return lines


def _worst_false_hold(summary: Mapping[str, Any]) -> float:
    rates = [
        row["false_hold_rate"] for row in summary["identities"].values() if row["false_hold_rate"] is not None
    ]
    return max(rates, default=0.0)


def compare_suite(
    candidate: SuiteResult | Mapping[str, Any], current: SuiteResult | Mapping[str, Any]
) -> tuple[bool, list[str]]:
    """Refuse a candidate that loses more than 5 points on any functionality or holds more civil text.

    Either argument is a SuiteResult or its as_dict() summary. Functionalities present in only one
    of them are listed but not judged (the suites differ; rerun both on the same cases).
    """
    new, old = summary_of(candidate), summary_of(current)
    ok = True
    lines = [f"functional suite, {new['model']} vs {old['model']} (pass rate per functionality):"]
    for name in sorted(set(new["functionalities"]) | set(old["functionalities"])):
        a = new["functionalities"].get(name, {}).get("pass_rate")
        b = old["functionalities"].get(name, {}).get("pass_rate")
        if a is None or b is None:
            lines.append(f"  {name}: only in {'the candidate' if b is None else 'the current model'}")
            continue
        worse = b - a > FUNCTIONALITY_DROP + 1e-9
        ok = ok and not worse
        lines.append(
            f"  {name}: {a:.1%} vs {b:.1%}" + (f"  (worse by {(b - a) * 100:.1f} points)" if worse else "")
        )
    a, b = _worst_false_hold(new), _worst_false_hold(old)
    worse = a > b + FALSE_HOLD_NOISE + 1e-9
    ok = ok and not worse
    lines.append(f"  worst identity false-hold rate: {a:.1%} vs {b:.1%}" + ("  (worse)" if worse else ""))
    return ok, lines


def suite_verdict(
    model_dir: Path,
    candidate: ModelBundle,
    current_version: str,
    thresholds: Thresholds,
    cases: Sequence[SuiteCase] | None = None,
    current_thresholds: Thresholds | None = None,
) -> Verdict:
    """Run the functional suite on both models, each at its thresholds, and compare them.

    thresholds are the candidate's; current_thresholds the current model's (the same when None).
    """
    current = ModelBundle.load(versions_dir(model_dir) / current_version)
    cases = load_suite() if cases is None else cases
    ok, lines = compare_suite(
        run_suite(candidate, cases, thresholds), run_suite(current, cases, current_thresholds or thresholds)
    )
    return Verdict(ok, "\n".join(lines))
