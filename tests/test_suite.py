"""The functional and identity suite: generation, metrics, reports, the CLI and the promotion gate."""

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from moderation.classifier.bundle import HEADS, ModelBundle, current_version, versions_dir
from moderation.classifier.datasets import Dataset, load_corpus
from moderation.classifier.promotion import FALSE_HOLD_NOISE, FUNCTIONALITY_DROP, compare_suite
from moderation.classifier.suite import (
    SPAM_FUNCTIONALITY,
    SUITES_DIR,
    bias_aucs,
    bias_score,
    build_cases,
    escape_markdown,
    generalized_mean,
    load_suite,
    render_suite,
    run_suite,
    suite_heatmap,
)
from moderation.classifier.train import train
from moderation.cli import main
from moderation.pipeline.domain import Thresholds
from moderation.pipeline.normalize import normalize
from tests.helpers import CORPUS, ROOT

# One xdist worker runs the whole module: its skewed candidate is trained and the suite run once.
pytestmark = pytest.mark.xdist_group("test_suite")

FUNCTIONAL = SUITES_DIR / "functional"
STOP = {
    "derogation_negative_emotion", "derogation_negative_attribute", "derogation_dehumanisation",
    "derogation_implicit", "threat_direct", "threat_normative", "slur", "profanity_at_group",
    "hate_subordinate_clause", "hate_later_sentence", "negated_positive", "hate_question",
    "hate_opinion", "abuse_individual", "abuse_nonprotected_group", "disguise_letter_dropped",
    "disguise_letters_swapped", "disguise_space_added", "disguise_space_removed", "disguise_leet",
    "disguise_unicode_lookalike", "disguise_separators",
}  # fmt: skip
PASS = {
    "identity_neutral", "identity_positive", "negated_hate", "counterspeech_quote",
    "counterspeech_reference", "slur_homonym", "reclaimed_self_reference", "profanity_not_aimed",
    "civil_news",
}  # fmt: skip
CATEGORIES = {
    "religion", "ethnicity", "nationality", "gender", "sexual_orientation", "gender_identity",
    "disability", "age",
}  # fmt: skip
DATA = Path(__file__).parent / "fixtures" / "datasets"


@pytest.fixture(scope="module")
def cases():
    return load_suite("functional")


# --- generation --------------------------------------------------------------------------------


def test_suite_is_large_and_covers_every_functionality_term_and_category(cases):
    assert len(cases) >= 3000
    expected = defaultdict(set)
    for case in cases:
        expected[case.functionality].add(case.expected)
    for name in STOP:
        assert expected[name] == {"stop"}, name
    for name in PASS:
        assert expected[name] == {"pass"}, name
    assert expected[SPAM_FUNCTIONALITY] == {"stop", "pass"}
    terms = {c.identity: c.category for c in cases if c.identity}
    assert len(terms) >= 40
    assert set(terms.values()) == CATEGORIES
    for nationality in (
        "russians",
        "ukrainians",
        "americans",
        "israelis",
        "palestinians",
        "chinese",
        "iranians",
    ):
        assert terms[nationality] == "nationality"
    per_functionality = Counter(c.functionality for c in cases)
    assert min(per_functionality.values()) >= 20
    templates = defaultdict(set)
    for case in cases:
        templates[case.functionality].add(case.template)
    assert all(len(templates[name]) >= 8 for name in STOP | PASS), templates


def test_each_identity_is_in_every_general_functionality(cases):
    identities = {c.identity for c in cases if c.identity}
    for name in ("identity_neutral", "identity_positive", "counterspeech_quote", "threat_normative"):
        assert {c.identity for c in cases if c.functionality == name} == identities, name


def test_generation_is_deterministic_across_processes(cases):
    again = build_cases(FUNCTIONAL)
    assert [c.id for c in again] == [c.id for c in cases]
    assert again == cases
    # A fresh interpreter with another hash seed must produce the very same ids.
    script = (
        "import hashlib; from moderation.classifier.suite import load_suite; "
        "print(hashlib.sha256('\\n'.join(c.id for c in load_suite()).encode()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )  # fmt: skip
    assert out.stdout.strip() == hashlib.sha256("\n".join(c.id for c in cases).encode()).hexdigest()


def test_ids_are_unique_and_no_text_repeats_within_a_functionality(cases):
    assert len({c.id for c in cases}) == len(cases)
    seen = Counter((c.functionality, c.text, c.email) for c in cases)
    assert max(seen.values()) == 1
    texts = Counter((c.functionality, c.text) for c in cases if c.functionality != SPAM_FUNCTIONALITY)
    assert max(texts.values()) == 1
    assert all("[[" not in c.text and "{" not in c.text for c in cases)


def test_spam_texts_are_sent_from_many_domains(cases):
    domains = defaultdict(set)
    for case in cases:
        if case.functionality == SPAM_FUNCTIONALITY:
            domains[case.template].add(case.email.rpartition("@")[2])
    assert sum(t.startswith(f"{SPAM_FUNCTIONALITY}.stop") for t in domains) >= 8
    assert all(len(d) >= 10 for d in domains.values())
    assert {"gmail.com", "mail.ru", "example.org", "qq.com"} <= set.union(*domains.values())


def test_disguised_cases_change_their_source_and_fold_back(cases):
    by_id = {c.id: c for c in cases}
    kinds = Counter()
    for case in cases:
        if not case.disguise:
            continue
        kinds[case.disguise] += 1
        source = by_id[case.source]
        assert case.functionality == f"disguise_{case.disguise}"
        assert source.expected == "stop" and case.expected == "stop"
        assert case.identity == source.identity and case.template == source.template
        assert case.text != source.text
        if case.disguise == "letter_dropped":
            assert len(case.text) == len(source.text) - 1
        elif case.disguise in ("space_added", "space_removed"):
            assert case.text.replace(" ", "") == source.text.replace(" ", "")
        elif case.disguise == "letters_swapped":
            assert sorted(case.text) == sorted(source.text) and len(case.text) == len(source.text)
        elif case.disguise in ("leet", "unicode_lookalike"):
            assert normalize(case.text)[1] == normalize(source.text)[1]
        elif case.disguise == "separators":
            assert re.sub(r"[-._]", "", case.text) == re.sub(r"[-._]", "", source.text)
            if case.text.count(".") > source.text.count("."):
                # The normalizer joins dotted letters; it may also glue on a one-letter word before.
                assert normalize(case.text)[1].replace(" ", "") == normalize(source.text)[1].replace(" ", "")
    assert set(kinds) == {n.removeprefix("disguise_") for n in STOP if n.startswith("disguise_")}
    assert min(kinds.values()) >= 100


def test_slurs_appear_only_where_the_suite_says(cases):
    slurs = tomllib.loads((FUNCTIONAL / "slurs.toml").read_text(encoding="utf-8"))["slur"]
    words = {s["singular"] for s in slurs} | {s["plural"] for s in slurs}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
    holders = {c.functionality for c in cases if c.expected == "pass" and pattern.search(c.text)}
    assert holders <= {"slur_homonym", "reclaimed_self_reference"}
    assert all(pattern.search(c.text) for c in cases if c.functionality == "slur")


def test_suite_and_corpus_are_kept_apart(cases):
    corpus = load_corpus(CORPUS)
    assert {Path(d.path).parent.resolve() for d in corpus} == {CORPUS.resolve()}
    # Suite files are TOML, so no glob for corpus files can pick them up by mistake.
    assert not list(SUITES_DIR.rglob("*.jsonl"))
    folded_corpus = {normalize(ex.text)[1] for d in corpus for ex in d.examples}
    leaked = [c.text for c in cases if normalize(c.text)[1] in folded_corpus]
    assert leaked == []


# --- metrics on numbers worked out by hand ------------------------------------------------------

IDS = ["a", "a", "a", "a", "b", "b", "b", "b"]
LABELS = [1, 1, 0, 0, 1, 1, 0, 0]
SCORES = [0.9, 0.8, 0.1, 0.85, 0.6, 0.7, 0.2, 0.3]


def test_borkan_aucs_on_hand_worked_scores():
    metrics = bias_aucs(IDS, LABELS, SCORES)
    # a: positives 0.9, 0.8 against negatives 0.1, 0.85: 3 of 4 pairs ordered right.
    assert metrics["a"]["subgroup_auc"] == pytest.approx(0.75)
    # Background positives (b: 0.6, 0.7) against a's negatives (0.1, 0.85): 2 of 4.
    assert metrics["a"]["bpsn_auc"] == pytest.approx(0.5)
    # a's positives against background negatives (0.2, 0.3): all 4.
    assert metrics["a"]["bnsp_auc"] == pytest.approx(1.0)
    assert metrics["b"] == pytest.approx({"subgroup_auc": 1.0, "bpsn_auc": 1.0, "bnsp_auc": 0.5})


def test_borkan_metric_is_none_without_both_sides():
    metrics = bias_aucs(["a", "a", "b", "b"], [1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2])
    assert metrics["a"]["subgroup_auc"] is None and metrics["a"]["bnsp_auc"] == 1.0
    assert metrics["a"]["bpsn_auc"] is None


def test_generalized_mean():
    assert generalized_mean([0.8, 0.8, 0.8]) == pytest.approx(0.8)
    assert generalized_mean([0.5, 1.0]) == pytest.approx(16.5**-0.2)  # ((2^5 + 1) / 2)^(-1/5)
    assert generalized_mean([0.5, 1.0], power=1) == pytest.approx(0.75)
    assert generalized_mean([0.5, 1.0]) < 0.6  # p = -5 leans towards the worst value
    assert generalized_mean([0.0, 1.0]) == 0.0


def test_bias_score_combines_overall_and_power_means_with_equal_weights():
    per_identity = bias_aucs(IDS, LABELS, SCORES)
    # Overall: 13 of the 16 positive-negative pairs are ordered right.
    result = bias_score(13 / 16, per_identity)
    m = 16.5**-0.2
    m_sub = (((0.75**-5) + 1) / 2) ** -0.2
    assert result["mean_subgroup_auc"] == pytest.approx(m_sub)
    assert result["mean_bpsn_auc"] == pytest.approx(m)
    assert result["mean_bnsp_auc"] == pytest.approx(m)
    assert result["final"] == pytest.approx(0.25 * 13 / 16 + 0.25 * (m_sub + 2 * m))


def test_markdown_escaping_of_comment_text():
    hostile = "a | b\nnext line <script>alert(1)</script> **bold** [x](http://e.example)"
    escaped = escape_markdown(hostile)
    assert "\n" not in escaped and "<script>" not in escaped
    assert not re.search(r"(?<!\\)\|", escaped)
    assert "\\*\\*bold\\*\\*" in escaped and "\\[x\\]" in escaped


# --- the real session model, end to end ---------------------------------------------------------


@pytest.fixture(scope="module")
def result(model_dir, cases):
    return run_suite(ModelBundle.load_current(model_dir), cases, Thresholds())


def test_suite_result_is_consistent(result, cases):
    s = result.summary
    thresholds = Thresholds()
    for i in range(len(cases)):
        held = any(result.scores[h][i] >= thresholds.hold(h) for h in HEADS)
        assert (result.outcomes[i] in ("hold", "reject")) == held
    assert s["cases"] == len(cases) == sum(f["cases"] for f in s["functionalities"].values())
    for name, f in s["functionalities"].items():
        rows = [i for i, c in enumerate(cases) if c.functionality == name]
        assert f["cases"] == len(rows) and f["correct"] + f["wrong"] == f["cases"]
        assert f["correct"] == sum(result.correct(i) for i in rows)
        assert 0 <= f["pass_rate"] <= 1
    stops = [i for i, c in enumerate(cases) if c.expected == "stop" and c.functionality != SPAM_FUNCTIONALITY]
    assert s["hateful_stopped"]["stopped"] == sum(result.outcomes[i] != "approve" for i in stops)
    assert 0 <= s["hateful_stopped"]["rate"] <= 1
    for key, row in s["identities"].items():
        own = [c for c in cases if c.identity == key]
        assert row["cases"] == len(own) == row["pass_cases"] + row["stop_cases"]
        assert 0 <= row["false_holds"] <= row["pass_cases"] and 0 <= row["missed"] <= row["stop_cases"]
        for metric in ("pass_rate", "false_hold_rate", "missed_rate", "subgroup_auc", "bpsn_auc", "bnsp_auc"):
            assert 0 <= row[metric] <= 1, (key, metric)
    assert sum(row["cases"] for row in s["categories"].values()) == sum(1 for c in cases if c.identity)
    worst = max(s["identities"].items(), key=lambda kv: kv[1]["false_hold_rate"])
    assert s["worst_false_hold"]["rate"] == worst[1]["false_hold_rate"]
    bias = s["bias"]
    for key in ("overall_auc", "mean_subgroup_auc", "mean_bpsn_auc", "mean_bnsp_auc", "final"):
        assert 0 <= bias[key] <= 1
    assert bias["mean_bpsn_auc"] <= min(1, max(r["bpsn_auc"] for r in s["identities"].values()))


def test_spam_domain_consistency_is_counted_from_verdicts(result, cases):
    verdicts = defaultdict(set)
    for i, case in enumerate(cases):
        if case.functionality == SPAM_FUNCTIONALITY:
            verdicts[case.template].add(result.outcomes[i] == "approve")
    spam = result.summary["spam_domains"]
    assert spam["texts"] == len(verdicts) and spam["domains"] >= 10
    assert spam["differing_texts"] == sum(len(v) > 1 for v in verdicts.values())


def test_worst_cases_are_wrong_and_most_confident_first(result, cases):
    by_id = {c.id: i for i, c in enumerate(cases)}
    for name, rows in result.summary["worst"].items():
        if result.summary["functionalities"][name]["expected"] == "mixed":
            continue
        assert len(rows) <= 5
        wrong = sum(not result.correct(i) for i, c in enumerate(cases) if c.functionality == name)
        assert len(rows) == min(5, wrong)
        for row in rows:
            assert not result.correct(by_id[row["id"]])
        # A missed stop case is worse the lower its scores; a false hold the higher.
        key = [max(r["toxicity"] - 0.5, r["spam"] - 0.5) for r in rows]
        stop = result.summary["functionalities"][name]["expected"] == "stop"
        expected_order = sorted(key) if stop else sorted(key, reverse=True)
        assert key == expected_order


def test_result_as_dict_and_report(result, tmp_path):
    data = json.loads(json.dumps(result.as_dict()))
    assert data["worst"] and "worst" not in result.as_dict(include_worst=False)
    assert data["functionalities"] == result.summary["functionalities"]
    report = render_suite(result)
    for name in result.summary["functionalities"]:
        assert f"| {name} |" in report
    assert "| identity | category |" in report and "BPSN" in report
    for table in re.split(r"\n\n", report):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        pipes = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
        assert len(pipes) <= 1, table  # comment text never breaks a table row
    png = suite_heatmap(result, tmp_path / "heat.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


# --- CLI and promotion --------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path, model_dir, monkeypatch):
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))


def test_evaluate_runs_the_suite_alone(runner, env, model_dir, tmp_path):
    version = versions_dir(model_dir) / current_version(model_dir)
    out = tmp_path / "suite"
    result = runner.invoke(
        main, ["evaluate", "--suite", "functional", "--model", str(version), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "derogation_dehumanisation" in result.output and "pass rate" in result.output
    data = json.loads((out / "suite.json").read_text())
    assert data["model"] == version.name and set(data["functionalities"]) == STOP | PASS | {
        SPAM_FUNCTIONALITY
    }
    assert "![identity heatmap](suite_heatmap.png)" in (out / "suite.md").read_text()
    assert (out / "suite_heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "report.md").exists()


def test_evaluate_report_has_a_suite_section_unless_skipped(runner, env, tmp_path):
    out = tmp_path / "with"
    result = runner.invoke(main, ["evaluate", "--data", str(DATA / "plain.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "## Functional suite" in (out / "report.md").read_text()
    assert json.loads((out / "metrics.json").read_text())["suite"]["cases"] >= 3000
    assert (out / "suite.md").exists()
    skipped = tmp_path / "without"
    result = runner.invoke(
        main, ["evaluate", "--data", str(DATA / "plain.csv"), "--no-suite", "--out", str(skipped)]
    )
    assert result.exit_code == 0, result.output
    assert "Functional suite" not in (skipped / "report.md").read_text()
    assert "suite" not in json.loads((skipped / "metrics.json").read_text())
    assert not (skipped / "suite.md").exists()
    nothing = runner.invoke(main, ["evaluate", "--no-suite"])
    assert nothing.exit_code == 2 and "nothing to evaluate" in nothing.output


def test_evaluate_refuses_an_unknown_suite(runner, env):
    result = runner.invoke(main, ["evaluate", "--suite", "no-such-suite"])
    assert result.exit_code != 0 and "no suite" in result.output


@pytest.fixture(scope="module")
def skewed(model_dir, tmp_path_factory):
    """A copy of the session model folder plus a candidate trained on a deliberately skewed slice.

    The candidate sees 80 comments of each corpus file except the threats and three civil files
    (casual comments, politics, kind comments built like insults): it has nothing to learn threats
    from and few civil comments that name a group.
    """
    folder = tmp_path_factory.mktemp("promote")
    shutil.copytree(versions_dir(model_dir), versions_dir(folder))
    shutil.copy2(model_dir / "CURRENT", folder / "CURRENT")
    (folder / "corpus").symlink_to(CORPUS, target_is_directory=True)  # promote's held-out split
    kept = [
        Dataset(d.path, d.format, d.examples[:80], d.sha256)
        for d in load_corpus(CORPUS)
        if not any(part in Path(d.path).name for part in ("threat", "directed", "politics", "ham_casual"))
    ]
    path = train(kept, folder, seed=5, params={"calibration_folds": 3}, make_current=False)
    return folder, path.name


def test_training_records_the_suite_in_the_manifest(skewed):
    folder, version = skewed
    manifest = json.loads((versions_dir(folder) / version / "manifest.json").read_text())
    suite = manifest["suite"]
    assert suite["model"] == version and suite["cases"] >= 3000 and "worst" not in suite
    assert set(suite["functionalities"]) == STOP | PASS | {SPAM_FUNCTIONALITY}
    assert {"mean_subgroup_auc", "mean_bpsn_auc", "mean_bnsp_auc", "final"} <= set(suite["bias"])
    assert (
        "| functionality | expected | cases | pass rate |"
        in (versions_dir(folder) / version / "report.md").read_text()
    )


def test_compare_suite_refuses_the_skewed_candidate(skewed, result):
    folder, version = skewed
    candidate = json.loads((versions_dir(folder) / version / "manifest.json").read_text())["suite"]
    ok, lines = compare_suite(candidate, result)
    assert not ok and any("worse" in line for line in lines)
    assert compare_suite(result, result)[0]
    assert compare_suite(result.as_dict(), result.as_dict(include_worst=False))[0]


def test_compare_suite_tolerances(result):
    current = result.as_dict(include_worst=False)
    name = next(iter(current["functionalities"]))
    rate = current["functionalities"][name]["pass_rate"]
    # Lower the current model's rate where it can be lowered, raise it otherwise: the gate only
    # looks at the difference.
    sign = -1 if rate >= 0.1 else 1
    for drop, allowed in ((FUNCTIONALITY_DROP - 0.01, True), (FUNCTIONALITY_DROP + 0.01, False)):
        candidate = copy.deepcopy(current)
        baseline = copy.deepcopy(current)
        if sign < 0:
            candidate["functionalities"][name]["pass_rate"] = rate - drop
        else:
            baseline["functionalities"][name]["pass_rate"] = rate + drop
        assert compare_suite(candidate, baseline)[0] is allowed, drop
    worst = current["worst_false_hold"]["identity"]
    for rise, allowed in ((FALSE_HOLD_NOISE - 0.001, True), (FALSE_HOLD_NOISE + 0.005, False)):
        candidate = copy.deepcopy(current)
        candidate["identities"][worst]["false_hold_rate"] += rise
        ok, lines = compare_suite(candidate, current)
        assert ok is allowed and lines[-1].startswith("  worst identity false-hold rate")


def test_promote_refuses_a_candidate_worse_on_the_suite_unless_forced(runner, skewed, monkeypatch, tmp_path):
    folder, version = skewed
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(folder))
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    before = current_version(folder)
    refused = runner.invoke(main, ["promote", version])
    assert refused.exit_code != 0, refused.output
    assert "functional suite" in refused.output and "worse" in refused.output
    assert current_version(folder) == before
    forced = runner.invoke(main, ["promote", version, "--force"])
    assert forced.exit_code == 0, forced.output
    assert current_version(folder) == version
