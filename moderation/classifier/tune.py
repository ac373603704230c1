"""Choosing hold and reject thresholds per head for targets an operator states (`moderation tune`).

Three kinds of target, each turned into the lowest threshold on a 0.0001 grid that meets it (every
measure below only shrinks or stays as the threshold rises, except precision, where "the lowest
threshold whose precision is high enough" is what gives the most recall at that precision):

- ``civil``: at most X% of civil comments (rows labelled ham) at or above the hold threshold, i.e.
  not published straight away (held, or rejected by the same head);
- ``precision``: at least Y% of the rows at or above the reject threshold are of the head's kind
  (spam for the spam head, toxic for the toxicity head);
- ``budget``: at most N comments a day between the hold and the reject threshold among the
  comments stored over the last days, with the scores they were decided with (the moderation
  queue this head fills at recent volume).

Two targets on one threshold (civil share and budget, both on hold) give the higher of the two
thresholds, which meets both. The result always keeps hold <= reject, or the tuning is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from moderation.classifier.datasets import Example

# Thresholds are chosen on this grid: 0.0001 apart, so the result is a number an operator can read
# and write back, and "the lowest threshold meeting a target" is at most one step from exact.
GRID_STEP = 0.0001
GRID = np.round(np.arange(0, 10_001) * GRID_STEP, 4)
HEADS = ("spam", "toxicity")
HEAD_LABEL = {"spam": "spam", "toxicity": "toxic"}
KINDS = ("civil", "precision", "budget")
WHICH = {"civil": "hold", "budget": "hold", "precision": "reject"}
# Below this many civil rows one row is more than a percent of them: said in the output.
FEW_ROWS = 100


class TuneError(ValueError):
    """The data cannot meet a target, or cannot be used for it."""


@dataclass(frozen=True)
class Target:
    kind: str  # one of KINDS
    head: str
    value: float  # percent for civil and precision; comments a day for budget

    def describe(self) -> str:
        if self.kind == "civil":
            return f"at most {self.value:g}% of civil comments held"
        if self.kind == "precision":
            return f"at least {self.value:g}% precision on rejects"
        return f"at most {self.value:g} comments a day held"


@dataclass
class HeadData:
    """One head's labelled scores: y is 1 for the head's kind, civil marks the ham rows."""

    y: np.ndarray
    civil: np.ndarray
    p: np.ndarray

    @property
    def positives(self) -> int:
        return int(self.y.sum())

    @property
    def civil_rows(self) -> int:
        return int(self.civil.sum())


def head_data(examples: Sequence[Example], scores: dict[str, np.ndarray], head: str) -> HeadData:
    y = np.array([ex.label == HEAD_LABEL[head] for ex in examples], dtype=bool)
    civil = np.array([ex.label == "ham" for ex in examples], dtype=bool)
    return HeadData(y, civil, np.asarray(scores[head], dtype=float))


def _at_or_above(sorted_scores: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """How many of sorted_scores are >= each grid threshold (the policy's comparison)."""
    return len(sorted_scores) - np.searchsorted(sorted_scores, grid, side="left")


@dataclass
class Curve:
    """Per grid threshold: civil share at or above, precision and recall of the rows at or above."""

    civil_share: np.ndarray
    precision: np.ndarray  # NaN where no row is at or above
    recall: np.ndarray
    flagged: np.ndarray

    @classmethod
    def of(cls, data: HeadData) -> Curve:
        civil = _at_or_above(np.sort(data.p[data.civil]))
        tp = _at_or_above(np.sort(data.p[data.y]))
        flagged = _at_or_above(np.sort(data.p))
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(flagged > 0, tp / np.maximum(flagged, 1), np.nan)
        civil_share = civil / data.civil_rows if data.civil_rows else np.full(len(GRID), np.nan)
        recall = tp / data.positives if data.positives else np.full(len(GRID), np.nan)
        return cls(civil_share, precision, recall, flagged)

    def at(self, threshold: float) -> dict[str, Any]:
        i = grid_index(threshold)
        return {
            "threshold": round(float(threshold), 4),
            "civil_held": _pct(self.civil_share[i]),
            "precision": _pct(self.precision[i]),
            "recall": _pct(self.recall[i]),
            "rows_at_or_above": int(self.flagged[i]),
        }


def grid_index(threshold: float) -> int:
    """The grid point at or above threshold (a threshold off the grid, e.g. a trained 0.55, rounds up)."""
    return int(min(len(GRID) - 1, np.searchsorted(GRID, round(float(threshold), 6) - 1e-9, side="left")))


def _pct(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value) * 100, 2)


def choose_civil(data: HeadData, head: str, percent: float) -> int:
    """Grid index of the lowest hold threshold holding at most percent of civil rows."""
    if data.civil_rows == 0:
        raise TuneError(f"{head}: the data has no civil (ham) rows to measure civil comments held on")
    curve = Curve.of(data)
    ok = np.flatnonzero(curve.civil_share <= percent / 100 + 1e-12)
    if not len(ok):
        raise TuneError(
            f"{head}: no threshold holds at most {percent:g}% of the {data.civil_rows} civil rows "
            f"(even at 1.0, {curve.civil_share[-1] * 100:.2f}% are held)"
        )
    return int(ok[0])


def choose_precision(data: HeadData, head: str, percent: float) -> int:
    """Grid index of the lowest reject threshold whose rejects are at least percent of the head's kind."""
    if data.positives == 0 or data.positives == len(data.y):
        what = "no" if data.positives == 0 else "only"
        raise TuneError(
            f"{head}: the data has {what} {HEAD_LABEL[head]} rows; precision on rejects needs both "
            f"{HEAD_LABEL[head]} rows and others"
        )
    curve = Curve.of(data)
    precision = np.nan_to_num(curve.precision, nan=-1.0)
    ok = np.flatnonzero(precision >= percent / 100 - 1e-12)
    if not len(ok):
        best = int(np.argmax(precision))
        raise TuneError(
            f"{head}: no threshold gives {percent:g}% precision on rejects; the best is "
            f"{precision[best] * 100:.2f}% at {GRID[best]:.4f}"
        )
    return int(ok[0])


def choose_budget(stored: np.ndarray, head: str, per_day: float, days: int, reject: float) -> int:
    """Grid index of the lowest hold threshold queuing at most per_day·days of the stored comments.

    The queue is what this head holds and does not reject: scores in [hold, reject).
    """
    if len(stored) == 0:
        raise TuneError(f"{head}: no comments stored in the last {days} days to size a hold budget on")
    ordered = np.sort(stored)
    reject_i = grid_index(reject)
    above_reject = len(ordered) - np.searchsorted(ordered, GRID[reject_i], side="left")
    queued = _at_or_above(ordered[: len(ordered) - above_reject], GRID[: reject_i + 1])
    ok = np.flatnonzero(queued <= per_day * days)
    return int(ok[0])  # at the reject threshold nothing is queued: always met


def queue_per_day(stored: np.ndarray, hold: float, reject: float, days: int) -> float:
    return round(float(((stored >= hold) & (stored < reject)).sum()) / days, 2)


@dataclass
class HeadResult:
    head: str
    current: tuple[float, float]
    chosen: dict[str, float] = field(default_factory=dict)  # which -> threshold
    why: dict[str, list[str]] = field(default_factory=dict)  # which -> the targets that set it
    data: HeadData | None = None
    stored: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def final(self) -> tuple[float, float]:
        return self.chosen.get("hold", self.current[0]), self.chosen.get("reject", self.current[1])


def tune_head(
    head: str,
    targets: Sequence[Target],
    current: tuple[float, float],
    data: HeadData | None,
    stored: np.ndarray | None,
    days: int,
) -> HeadResult:
    """Choose this head's thresholds for its targets; raise TuneError when they cannot be met."""
    result = HeadResult(head, current, data=data, stored=stored)
    precision = [t for t in targets if t.kind == "precision"]
    for target in precision:
        assert data is not None
        i = choose_precision(data, head, target.value)
        if GRID[i] >= result.chosen.get("reject", -1.0):
            result.chosen["reject"] = float(GRID[i])
        result.why.setdefault("reject", []).append(target.describe())
    reject = result.chosen.get("reject", current[1])
    for target in targets:
        if target.kind == "civil":
            assert data is not None
            i = choose_civil(data, head, target.value)
            if data.civil_rows < FEW_ROWS:
                result.notes.append(
                    f"{head}: only {data.civil_rows} civil rows; one of them is "
                    f"{100 / data.civil_rows:.2f}% of them"
                )
        elif target.kind == "budget":
            assert stored is not None
            i = choose_budget(stored, head, target.value, days, reject)
            if GRID[i] >= reject:
                result.notes.append(
                    f"{head}: the budget is met only by holding nothing on this head (hold = reject)"
                )
        else:
            continue
        result.chosen["hold"] = max(float(GRID[i]), result.chosen.get("hold", 0.0))
        result.why.setdefault("hold", []).append(target.describe())
    hold, reject = result.final
    if hold > reject:
        if "reject" in result.chosen and "hold" not in result.chosen:
            raise TuneError(
                f"{head}: the reject threshold {reject:.4f} would be below the hold threshold {hold:.4f} "
                "in force; tune the hold threshold too (e.g. --max-civil-held)"
            )
        raise TuneError(
            f"{head}: meeting {'; '.join(result.why.get('hold', []))} needs a hold threshold of "
            f"{hold:.4f}, above the reject threshold {reject:.4f}: the reject threshold alone already "
            "takes more than that; loosen the target or tune the reject threshold too"
        )
    return result


def summary(result: HeadResult, days: int) -> dict[str, Any]:
    """What the current and chosen thresholds give on the data: for the report, metrics.json and output."""
    out: dict[str, Any] = {
        "current": {"hold": result.current[0], "reject": result.current[1]},
        "chosen": {w: round(v, 4) for w, v in result.chosen.items()},
        "targets": result.why,
        "notes": result.notes,
    }
    hold, reject = result.final
    if result.data is not None:
        curve = Curve.of(result.data)
        out["rows"] = len(result.data.y)
        out["positives"] = result.data.positives
        out["civil_rows"] = result.data.civil_rows
        out["at"] = {
            "current_hold": curve.at(result.current[0]),
            "current_reject": curve.at(result.current[1]),
            "hold": curve.at(hold),
            "reject": curve.at(reject),
        }
    if result.stored is not None:
        out["queue_per_day"] = {
            "days": days,
            "comments": len(result.stored),
            "current": queue_per_day(result.stored, *result.current, days),
            "chosen": queue_per_day(result.stored, hold, reject, days),
        }
    return out


# --- report --------------------------------------------------------------------------------------


def plot(result: HeadResult, targets: Sequence[Target], days: int, out: Path) -> str:
    """The trade-off curve of one head against the threshold, current and chosen thresholds marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    if result.data is not None:
        curve = Curve.of(result.data)
        if result.data.civil_rows:
            ax.plot(GRID, curve.civil_share * 100, label="civil comments held (%)", color="tab:blue")
        if result.data.positives:
            ax.plot(GRID, curve.precision * 100, label=f"precision of {HEAD_LABEL[result.head]} (%)",
                    color="tab:green")  # fmt: skip
            ax.plot(GRID, curve.recall * 100, label=f"recall of {HEAD_LABEL[result.head]} (%)",
                    color="tab:purple")  # fmt: skip
    ax.set(xlim=(0, 1), ylim=(0, 102), xlabel="threshold (score at or above)", ylabel="%")
    hold, reject = result.final
    ax.axvline(
        result.current[0], color="tab:orange", linestyle=":", label=f"hold in force {result.current[0]:.4f}"
    )
    ax.axvline(
        result.current[1], color="tab:red", linestyle=":", label=f"reject in force {result.current[1]:.4f}"
    )
    if "hold" in result.chosen:
        ax.axvline(hold, color="tab:orange", label=f"chosen hold {hold:.4f}")
    if "reject" in result.chosen:
        ax.axvline(reject, color="tab:red", label=f"chosen reject {reject:.4f}")
    for target in targets:
        if target.kind in ("civil", "precision"):
            ax.axhline(target.value, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(target.describe(), (0.01, target.value), fontsize=7, color="grey",
                        textcoords="offset points", xytext=(0, 2))  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    if result.stored is not None and len(result.stored):
        queue = ax.twinx()
        ordered = np.sort(result.stored)
        below = ordered[ordered < reject]
        xs = GRID[GRID <= reject]
        queue.plot(xs, _at_or_above(below, xs) / days, color="black", linewidth=1,
                   label=f"held a day, last {days} days' comments")  # fmt: skip
        budgets = [t.value for t in targets if t.kind == "budget"]
        for budget in budgets:
            queue.axhline(budget, color="black", linestyle="--", linewidth=0.8)
        queue.set(ylabel="comments held a day", ylim=(0, None))
        more_h, more_l = queue.get_legend_handles_labels()
        handles, labels = handles + more_h, labels + more_l
    ax.legend(handles, labels, loc="center right", fontsize=7)
    ax.set_title(f"{result.head}: what each threshold gives")
    fig.tight_layout()
    name = f"{result.head}_tradeoff.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def _cell(value: Any) -> str:
    return "–" if value is None else f"{value}"


def render(metrics: dict[str, Any]) -> str:
    """report.md: per head, what the thresholds in force and the chosen ones give."""
    lines = [f"# Threshold tuning for {metrics['model']}", ""]
    lines.append(f"Labelled rows: {metrics['rows']}; sources: " + (", ".join(metrics["sources"]) or "none"))
    if metrics.get("budget_days"):
        lines.append(f"Stored comments for the hold budget: last {metrics['budget_days']} days.")
    lines.append("")
    for head, m in metrics["heads"].items():
        lines += [f"## {head}", ""]
        for which in ("hold", "reject"):
            if which in m["chosen"]:
                lines.append(
                    f"- {which}: {m['current'][which]} → **{m['chosen'][which]}** "
                    f"({'; '.join(m['targets'][which])})"
                )
        lines.append("")
        if "at" in m:
            lines += [
                "| threshold | value | civil held % | precision % | recall % | rows at or above |",
                "|---|---|---|---|---|---|",
            ]
            names = {"current_hold": "hold in force", "current_reject": "reject in force",
                     "hold": "hold chosen", "reject": "reject chosen"}  # fmt: skip
            for key, label in names.items():
                r = m["at"][key]
                lines.append(
                    f"| {label} | {r['threshold']} | {_cell(r['civil_held'])} | {_cell(r['precision'])} | "
                    f"{_cell(r['recall'])} | {r['rows_at_or_above']} |"
                )
            lines.append("")
            lines.append(
                f"{m['rows']} rows, {m['positives']} {HEAD_LABEL[head]}, {m['civil_rows']} civil. "
                "Civil held: civil rows at or above the hold threshold (held or rejected); precision and "
                "recall: of the rows at or above that threshold."
            )
            lines.append("")
        if "queue_per_day" in m:
            q = m["queue_per_day"]
            lines.append(
                f"Queue from this head at the volume of the last {q['days']} days ({q['comments']} "
                f"comments, scores as stored): {q['current']} a day now, {q['chosen']} a day chosen. "
                "Holds for other reasons (links, new authors, watched terms) come on top."
            )
            lines.append("")
        for note in m["notes"]:
            lines.append(f"- note: {note}")
        if m["notes"]:
            lines.append("")
        lines.append(f"![{head} trade-off]({m['plot']})")
        lines.append("")
    return "\n".join(lines)


def write_report(out: Path, metrics: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render(metrics), encoding="utf-8")
