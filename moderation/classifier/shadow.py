"""Shadow scoring's report: which verdicts a candidate model would have changed, counted and shown.

Pure functions over the stored comments the candidate scored (``Store.shadow_comments`` reads them);
`moderation shadow report` prints or dumps what ``summarize`` returns.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, Iterable

# How strict each verdict is: a change towards a stricter one is explained by the candidate's reason,
# a change towards a laxer one by the live reason the candidate no longer finds.
STRICTNESS = {"approve": 0, "hold": 1, "reject": 2}


def change_reason(live: dict[str, Any], shadow: dict[str, Any]) -> str:
    """The reason code a changed verdict is counted under (see STRICTNESS)."""
    stricter = STRICTNESS.get(shadow.get("decision", ""), 0) > STRICTNESS.get(live["decision"], 0)
    return str(shadow.get("reason_code") if stricter else live["reason_code"])


def _truncate(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def summarize(rows: Iterable[dict[str, Any]], examples: int = 3, width: int = 100) -> dict[str, Any]:
    """Count the comments whose verdict the candidate would change, by from→to and by reason.

    Each change keeps its first `examples` comments (id, text cut to `width` characters, both
    verdicts' reasons and the spam/toxicity scores of each), for moderators to judge which verdict
    was right.
    """
    compared = 0
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    reasons: Counter[str] = Counter()
    latency: list[float] = []
    first = last = None
    for row in rows:
        shadow = row["shadow"] or {}
        compared += 1
        first = first or row["created_at"]
        last = row["created_at"]
        if isinstance(shadow.get("ms"), (int, float)):
            latency.append(float(shadow["ms"]))
        if shadow.get("decision") == row["decision"]:
            continue
        key = (row["decision"], str(shadow.get("decision")))
        change = changes.setdefault(key, {"count": 0, "reasons": Counter(), "examples": []})
        reason = change_reason(row, shadow)
        change["count"] += 1
        change["reasons"][reason] += 1
        reasons[reason] += 1
        if len(change["examples"]) < examples:
            live_scores = {h: v for h, v in (row.get("scores") or {}).items() if h in ("spam", "toxicity")}
            shadow_scores = {
                h: v for h, v in (shadow.get("scores") or {}).items() if h in ("spam", "toxicity")
            }
            change["examples"].append(
                {
                    "id": row["id"],
                    "text": _truncate(row["text"], width),
                    "live_reason": row["reason_code"],
                    "shadow_reason": shadow.get("reason_code"),
                    "live_scores": live_scores,
                    "shadow_scores": shadow_scores,
                }
            )
    ordered = sorted(changes.items(), key=lambda item: (-item[1]["count"], item[0]))
    return {
        "compared": compared,
        "changed": sum(c["count"] for c in changes.values()),
        "first": first.isoformat() if first else None,
        "last": last.isoformat() if last else None,
        "shadow_ms_median": round(statistics.median(latency), 2) if latency else None,
        "by_reason": dict(reasons.most_common()),
        "changes": [
            {
                "from": old,
                "to": new,
                "count": c["count"],
                "reasons": dict(c["reasons"].most_common()),
                "examples": c["examples"],
            }
            for (old, new), c in ordered
        ],
    }


def render(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    lines = [
        f"shadow {report['version']}: {report['compared']} comments scored"
        + (f" from {report['first']} to {report['last']}" if report["first"] else ""),
    ]
    if report["compared"]:
        share = 100.0 * report["changed"] / report["compared"]
        lines.append(f"verdicts that would change: {report['changed']} ({share:.1f}%)")
    if report.get("shadow_ms_median") is not None:
        lines.append(f"median shadow scoring time: {report['shadow_ms_median']} ms")
    for change in report["changes"]:
        why = ", ".join(f"{code} {n}" for code, n in change["reasons"].items())
        lines.append(f"{change['from']} -> {change['to']}: {change['count']} ({why})")
        for example in change["examples"]:
            why = f"{example['live_reason']} -> {example['shadow_reason']}"
            lines.append(f"  {example['id']} [{why}] {example['text']}")
    return "\n".join(lines)
