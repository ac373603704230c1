"""A model card per version: what the model is for, what it learned from, how well and how fairly it does.

Built from the version's manifest.json and any evaluations/*/metrics.json beside it; it never loads
the model file, so it can be (re)written for any version folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FILE = "model_card.md"
MANIFEST_FILE = "manifest.json"


def _cell(value: Any) -> str:
    """A value for a Markdown table cell: no pipes or line breaks to break the row."""
    if value is None:
        return "-"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _evaluations(version_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((version_dir / "evaluations").glob("*/metrics.json")):
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(metrics, dict) and isinstance(metrics.get("heads"), dict):
            found.append({"name": path.parent.name, **metrics})
    return found


def _thresholds(manifest: dict[str, Any]) -> list[str]:
    thresholds = manifest.get("thresholds") or {}
    lines = []
    for head, cuts in thresholds.items():
        if isinstance(cuts, dict):
            lines.append(f"- {head}: hold at {cuts.get('hold', '-')}, reject at {cuts.get('reject', '-')}")
    return lines


def render_card(manifest: dict[str, Any], evaluations: list[dict[str, Any]] | None = None) -> str:
    """The model card as Markdown, from a manifest and optional evaluation metrics."""
    evaluations = evaluations or []
    version = manifest.get("version", "?")
    heads = manifest.get("heads") or ["spam", "toxicity"]
    lines = [
        f"# Model card: {version}",
        "",
        f"Created {manifest.get('created', '?')} with seed {manifest.get('seed', '?')}; heads "
        f"{', '.join(f'`{h}`' for h in heads)}. Generated from `manifest.json`; regenerate with "
        "`moderation evaluate --card`.",
        "",
        "## Intended use",
        "",
        "Scores comments submitted to a website (news, blog or community comment sections, in English) "
        "for two things: spam (advertising, scams, link farming) and toxicity (insults, threats, "
        "obscenity, attacks on identity groups). The service uses the scores to approve a comment, "
        "hold it for a human moderator, or reject it, at the thresholds below.",
        "",
        "- Meant as a first filter in front of human moderators: held comments are reviewed by people, "
        "and moderators' verdicts can be fed back into training.",
        "- Not meant for judging people (accounts, authors, applicants), for languages other than "
        "English, for text other than comments (chat logs, documents), or for removing content with no "
        "appeal or human review.",
        "",
        "Thresholds recorded with this version:",
        "",
        *(_thresholds(manifest) or ["- none recorded (the service's configuration applies)"]),
        "",
        "## Data",
        "",
    ]
    examples = manifest.get("examples") or {}
    if examples:
        lines += [
            f"{examples.get('distinct', '?')} distinct examples after removing duplicate texts; "
            f"{examples.get('fitted', '?')} fitted and {examples.get('held_out', '?')} held out for the "
            "metrics below, then the saved model was refitted on all of them.",
            "",
        ]
    recipe = manifest.get("recipe") or {}
    if isinstance(recipe, dict) and recipe.get("name") == "streamed":
        lines += [
            "Trained with the streamed recipe for large data (docs/model.md): vocabulary and IDF from a "
            f"sample of {_cell(recipe.get('vocabulary_sample'))} rows, logistic regression by stochastic "
            f"gradient descent over {_cell(recipe.get('epochs'))} passes, a sigmoid calibrated on "
            f"{_cell(recipe.get('calibration_rows'))} held-back rows.",
            "",
        ]
    lines += ["| source | format | rows | labels |", "|---|---|---|---|"]
    for ds in manifest.get("data") or []:
        if not isinstance(ds, dict):
            continue
        labels = ds.get("labels") or {}
        counts = ", ".join(f"{k} {v}" for k, v in labels.items()) if isinstance(labels, dict) else labels
        lines.append(
            f"| `{_cell(Path(str(ds.get('path', '?'))).name)}` | {_cell(ds.get('format'))} | "
            f"{_cell(ds.get('rows'))} | {_cell(counts)} |"
        )
    lines += [
        "",
        "## Metrics",
        "",
        "Held out at training time (rows of the same sources the fitted model never saw):",
        "",
        "| head | rows | positives | ROC-AUC | PR-AUC | precision@hold | recall@hold | "
        "precision@reject | recall@reject |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    metrics = manifest.get("metrics") if isinstance(manifest.get("metrics"), dict) else {}
    held_out = metrics.get("held_out") if isinstance(metrics.get("held_out"), dict) else {}
    for head, m in held_out.items():
        if not isinstance(m, dict):
            continue
        lines.append(
            "| "
            + " | ".join(
                [head]
                + [
                    _cell(m.get(k))
                    for k in (
                        "rows",
                        "positives",
                        "roc_auc",
                        "pr_auc",
                        "precision_at_hold",
                        "recall_at_hold",
                        "precision_at_reject",
                        "recall_at_reject",
                    )
                ]
            )
            + " |"  # fmt: skip
        )
    if evaluations:
        lines += [
            "",
            "On other data (`moderation evaluate`, reports in `evaluations/`):",
            "",
            "| evaluation | head | rows | ROC-AUC (95% CI) | PR-AUC | FPR@hold | FPR@reject | ECE | "
            "rows seen in training |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for ev in evaluations:
            seen = (ev.get("leakage") or {}).get("seen_rows", "-")
            for head, m in ev["heads"].items():
                ci = (m.get("ci") or {}).get("roc_auc")
                auc = f"{m.get('roc_auc')} ({ci[0]}–{ci[1]})" if ci else _cell(m.get("roc_auc"))
                lines.append(
                    f"| {_cell(ev['name'])} | {head} | {_cell(m.get('rows', ev.get('rows')))} | {auc} | "
                    f"{_cell(m.get('pr_auc'))} | {_cell((m.get('at_hold') or {}).get('fpr'))} | "
                    f"{_cell((m.get('at_reject') or {}).get('fpr'))} | {_cell(m.get('ece'))} | "
                    f"{_cell(seen)} |"
                )
    lines += ["", "## Fairness", ""]
    suite = manifest.get("suite")
    if isinstance(suite, dict) and suite:
        worst = suite.get("worst_false_hold") or {}
        bias = suite.get("bias") or {}
        lines += [
            f"Functional and identity suite ({_cell(suite.get('cases'))} cases, run at training time): "
            f"hateful or abusive comments stopped {_cell((suite.get('hateful_stopped') or {}).get('rate'))}; "
            f"worst false-hold rate of civil comments about one identity {_cell(worst.get('rate'))} "
            f"({_cell(worst.get('identity'))}); bias score {_cell(bias.get('final'))} (overall AUC with "
            "the power means of subgroup, BPSN and BNSP AUC).",
        ]
        identities = suite.get("identities")
        if isinstance(identities, dict) and identities:
            lines += [
                "",
                "| identity | cases | pass rate | false-hold rate | missed rate | subgroup AUC | BPSN AUC | "
                "BNSP AUC |",
                "|---|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {_cell(name)} | {_cell(r.get('cases'))} | {_cell(r.get('pass_rate'))} | "
                f"{_cell(r.get('false_hold_rate'))} | {_cell(r.get('missed_rate'))} | "
                f"{_cell(r.get('subgroup_auc'))} | {_cell(r.get('bpsn_auc'))} | {_cell(r.get('bnsp_auc'))} |"
                for name, r in identities.items()
                if isinstance(r, dict)
            ]
    else:
        lines.append("The functional suite was not run for this version (no `suite` in the manifest).")
    for ev in evaluations:
        sub = ev.get("subgroups")
        if sub and sub.get("groups"):
            lines += [
                "",
                f"Identity groups in `{_cell(ev['name'])}` (toxicity head):",
                "",
                "| group | rows | subgroup AUC | BPSN AUC | BNSP AUC | false holds | "
                "background false holds |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {_cell(g)} | {_cell(r.get('rows'))} | {_cell(r.get('subgroup_auc'))} | "
                f"{_cell(r.get('bpsn_auc'))} | {_cell(r.get('bnsp_auc'))} | "
                f"{_cell(r.get('false_hold_rate'))} | "
                f"{_cell(r.get('background_false_hold_rate'))} |"
                for g, r in sub["groups"].items()
            ]
    lines += [
        "",
        "## Limitations",
        "",
        "- Trained mostly on the project's own seed corpus of written examples; held-out metrics on it "
        "are optimistic. Public data sets from other places (texting, tweets, talk pages) score lower; "
        "see the evaluations above and docs/model.md.",
        "- English only; disguised spellings are undone by normalization, but other languages, heavy "
        "slang and new spam patterns are scored unreliably.",
        "- Reads the text only: it cannot see context (the article, the thread, sarcasm between regulars), "
        "so quoted or reported abuse and counter-speech can be held.",
        "- Identity terms are masked so no group's name carries weight of its own, but civil comments "
        "about some groups are still held more often than others (see Fairness).",
        "- Probabilities are calibrated on training data; on other data they can be over-confident "
        "(see ECE in the evaluations). Re-check the thresholds on your own labelled comments with "
        "`moderation evaluate`.",
    ]
    return "\n".join(lines) + "\n"


def write_card(version_dir: Path) -> Path:
    """(Re)write model_card.md in a version folder from its manifest and evaluations."""
    version_dir = Path(version_dir)
    manifest = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    path = version_dir / CARD_FILE
    tmp = path.with_name(f".{CARD_FILE}.tmp")
    tmp.write_text(render_card(manifest, _evaluations(version_dir)), encoding="utf-8")
    tmp.replace(path)
    return path
