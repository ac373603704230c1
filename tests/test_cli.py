"""Every CLI verb, through click's runner or a real subprocess."""

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from moderation.classifier.bundle import current_version, list_versions
from moderation.cli import main
from moderation.store.database import make_engine
from moderation.store.repository import Store
from tests.helpers import CORPUS, corpus_slice
from tests.serving import (
    CLI,
    create_key,
    db_upgrade,
    service_env,
    start_instance,
    stop_instances,
    wait_until_ready,
)

# `moderation --help` as the console script runs it, reporting which heavy libraries it loaded.
HELP_PROBE = """
import json, sys
from moderation.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy", "numpy", "flask", "sqlalchemy"})
print(json.dumps(heavy), file=sys.stderr)
"""


def test_help_lists_every_layer_command_without_importing_scikit_learn():
    result = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {
        "db", "erase", "evaluate", "keys", "promote", "purge", "score", "serve", "shadow", "train", "tune",
        "webhooks",
    }  # fmt: skip
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []


@pytest.fixture
def env(tmp_path, model_dir, monkeypatch):
    """Point the CLI at a fresh database and the session model through its environment."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("MODERATION_DATABASE_URL", url)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))
    return {"url": url}


def test_db_upgrade_then_keys_create_prints_key_last(runner, env):
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["keys", "create", "--role", "client", "--name", "Example News"])
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    principal = Store(make_engine(env["url"])).authenticate(key)
    assert principal is not None and principal.role == "client" and principal.name == "Example News"


def test_keys_create_on_a_new_database_migrates_it_first(runner, env):
    result = runner.invoke(main, ["keys", "create", "--role", "admin", "--name", "first"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "migrated" in result.stderr
    key = result.stdout.strip().splitlines()[-1]
    principal = Store(make_engine(env["url"])).authenticate(key)
    assert principal is not None and principal.role == "admin"
    # The schema is the migrated one: the next command finds it and does not migrate again.
    listing = runner.invoke(main, ["keys", "list"])
    assert listing.exit_code == 0 and "migrated" not in listing.stderr and "first" in listing.stdout


def test_keys_create_against_an_unreachable_database_is_one_line(runner, env, tmp_path, monkeypatch):
    # A folder is never a SQLite database.
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path}")
    result = runner.invoke(main, ["keys", "create", "--role", "client", "--name", "x"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: cannot use the database") and len(result.stderr.splitlines()) == 1


def test_keys_list_and_revoke(runner, env):
    runner.invoke(main, ["db", "upgrade"])
    key = runner.invoke(main, ["keys", "create", "--role", "moderator", "--name", "desk"]).output.split()[-1]
    prefix = key.split("_")[1]
    listing = runner.invoke(main, ["keys", "list"]).output
    assert prefix in listing and key.split("_", 2)[2] not in listing
    assert runner.invoke(main, ["keys", "revoke", key]).exit_code == 0
    assert Store(make_engine(env["url"])).authenticate(key) is None
    again = runner.invoke(main, ["keys", "revoke", prefix])
    assert again.exit_code != 0 and "no active key" in again.output


def test_keys_create_rejects_unknown_role(runner, env):
    result = runner.invoke(main, ["keys", "create", "--role", "root", "--name", "x"])
    assert result.exit_code == 2


def test_train_writes_a_verified_version_and_makes_first_one_current(runner, tmp_path, monkeypatch):
    model_dir = tmp_path / "models"
    corpus_slice(model_dir, 25)  # every corpus file, a slice of each: what is tested is the mechanism
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))
    result = runner.invoke(main, ["train", "--seed", "7"])
    assert result.exit_code == 0, result.output
    versions = list(list_versions(model_dir))
    assert len(versions) == 1 and current_version(model_dir) == versions[0]
    manifest = json.loads((model_dir / "versions" / versions[0] / "manifest.json").read_text())
    assert manifest["seed"] == 7 and set(manifest["files"]) == {"model.json", "model.npz"}
    assert {d["format"] for d in manifest["data"]} == {"jsonl"}
    assert manifest["metrics"]["held_out"]["spam"]["roc_auc"] > 0.8
    # The code that built it, and no path of this machine: corpus files are named from the model folder.
    from moderation import __version__

    assert manifest["code"]["package"] == __version__ and manifest["code"]["commit"]
    corpus_paths = sorted(f"corpus/{p.name}" for p in CORPUS.glob("*.jsonl"))
    assert sorted(d["path"] for d in manifest["data"]) == corpus_paths
    assert str(tmp_path) not in json.dumps(manifest)
    time.sleep(1.1)  # versions are named by the second
    second = runner.invoke(main, ["train", "--seed", "7"])
    assert second.exit_code == 0
    assert current_version(model_dir) == versions[0], "a second training run does not switch by itself"
    newer = sorted(list_versions(model_dir))[-1]
    # Same corpus, code and seed: the same model file bytes, so the same hashes.
    again = json.loads((model_dir / "versions" / newer / "manifest.json").read_text())
    assert newer != versions[0] and again["files"] == manifest["files"]
    for name in ("model.json", "model.npz"):
        assert (model_dir / "versions" / newer / name).read_bytes() == (
            model_dir / "versions" / versions[0] / name
        ).read_bytes()
    promoted = runner.invoke(main, ["promote", newer])
    assert promoted.exit_code == 0, promoted.output
    assert current_version(model_dir) == newer
    # `make run`'s `train --if-needed`: nothing to do while the current model loads ...
    kept = runner.invoke(main, ["train", "--if-needed"])
    assert kept.exit_code == 0 and "nothing to train" in kept.output
    assert len(list(list_versions(model_dir))) == 2
    # ... and a new current model once this code refuses the current one (other feature code).
    folder = model_dir / "versions" / newer
    spec = json.loads((folder / "model.json").read_text())
    spec["features_version"] = 1
    (folder / "model.json").write_text(json.dumps(spec))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.json"]["sha256"] = hashlib.sha256(
        (folder / "model.json").read_bytes()
    ).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    time.sleep(1.1)
    rebuilt = runner.invoke(main, ["train", "--if-needed"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "feature code version 1" in rebuilt.output
    assert current_version(model_dir) not in (newer, versions[0])


def test_promote_refuses_unknown_or_broken_version(runner, env, model_dir):
    result = runner.invoke(main, ["promote", "v-does-not-exist"])
    assert result.exit_code != 0 and "cannot promote" in result.output
    assert current_version(model_dir) is not None


@pytest.mark.slow
def test_serve_runs_gunicorn_and_answers_over_http(tmp_path, model_dir):
    env = service_env(f"sqlite:///{tmp_path / 'serve.sqlite3'}", model_dir)
    db_upgrade(env)
    key = create_key(env, "client")
    server = start_instance(env, tmp_path / "serve.log", workers=2, migrate=True)
    base = server.base
    try:
        wait_until_ready(server)
        response = requests.post(
            f"{base}/v1/comments",
            json={"name": "Ann", "email": "ann@example.org", "text": "Clear and useful, thank you."},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 201
        assert response.json()["decision"] in {"approve", "hold", "reject"}
        fetched = requests.get(
            f"{base}/v1/comments/{response.json()['id']}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )
        assert fetched.json()["id"] == response.json()["id"]
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert "moderation_decisions_total" in metrics
    finally:
        stop_instances(server)
    assert server.process.returncode == 0, server.tail()
    # Logs are JSON lines and never carry the commenter's email or text.
    output = server.log.read_text()
    assert "ann@example.org" not in output and "Clear and useful" not in output
    access = [json.loads(line) for line in output.splitlines() if '"logger": "access"' in line]
    assert any(entry["path"] == "/v1/comments" and entry["status"] == 201 for entry in access)


DATA = Path(__file__).parent / "fixtures" / "datasets"


def test_evaluate_writes_report_metrics_and_plots(runner, env, tmp_path):
    out = tmp_path / "eval"
    result = runner.invoke(main, ["evaluate", "--data", str(DATA / "plain.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "spam: ROC-AUC" in result.output and "toxicity: ROC-AUC" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    spam = metrics["heads"]["spam"]
    assert spam["positives"] == 1 and 0 <= spam["roc_auc"] <= 1
    cuts = [r["threshold"] for r in spam["per_threshold"]]
    assert len(cuts) == 53 and 0.991 in cuts and 0.001 in cuts and spam["calibration"]
    assert {"brier", "ece", "ci", "at_max_fpr"} <= set(spam) and "fpr" in spam["at_reject"]
    assert metrics["leakage"]["seen_rows"] == 0 and "WARNING" not in result.output
    assert abs(sum(metrics["policy_share"].values()) - 1) < 1e-6
    assert (out / "spam.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert (
        "| threshold | precision | recall | FPR | F1 | flagged |" in report and "![spam](spam.png)" in report
    )
    assert "95% CI" in report and "expected calibration error" in report


def test_evaluate_refuses_data_the_model_trained_on(runner, env):
    corpus_file = sorted(CORPUS.glob("*.jsonl"))[0]
    result = runner.invoke(main, ["evaluate", "--data", str(corpus_file)])
    assert result.exit_code != 0 and "part of the training data" in result.output


def test_score_streams_a_csv_adding_two_columns(runner, env, tmp_path):
    source = tmp_path / "in.csv"
    rows = ["id,body"] + [f'{i},"comment number {i}, thanks for the article"' for i in range(2500)]
    rows.append('9999,"WIN a FREE phone now, text YES to 80088, 150p per msg"')
    source.write_text("\n".join(rows) + "\n")
    target = tmp_path / "out.csv"
    args = ["score", "--input", str(source), "--output", str(target), "--text-column", "body"]
    result = runner.invoke(main, [*args, "--batch-size", "1000"])
    assert result.exit_code == 0, result.output
    import csv

    with target.open() as fh:
        scored = list(csv.DictReader(fh))
    assert len(scored) == 2501 and list(scored[0]) == ["id", "body", "spam", "toxicity", "flag"]
    assert scored[-1]["id"] == "9999" and float(scored[-1]["spam"]) > float(scored[0]["spam"])
    missing = runner.invoke(main, ["score", "--input", str(source), "--output", str(target)])
    assert missing.exit_code != 0 and "no 'text' column" in missing.output


def test_evaluate_warns_loudly_about_training_rows_in_a_new_file(runner, env, tmp_path):
    corpus_files = [CORPUS / "ham_talk.jsonl", CORPUS / "toxic_talk.jsonl"]
    concatenated = tmp_path / "two_corpus_files.jsonl"
    concatenated.write_text("".join(p.read_text(encoding="utf-8") for p in corpus_files), encoding="utf-8")
    rows = sum(1 for p in corpus_files for line in p.read_text(encoding="utf-8").splitlines() if line.strip())
    out = tmp_path / "eval"
    result = runner.invoke(main, ["evaluate", "--data", str(concatenated), "--out", str(out), "--no-suite",
                                  "--bootstrap", "50"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"WARNING: {rows} of {rows} rows (100.00%) have the same text as training rows" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["leakage"]["seen_rows"] == rows and metrics["leakage"]["files"][0]["seen"] == rows
    assert (out / "report.md").read_text().startswith(f"# Evaluation of {metrics['model']}\n\n> **WARNING")
    with_fresh = tmp_path / "mostly_seen.jsonl"
    fresh = [
        {"text": "Parish notice: the allotment water butts get new lids on Wednesday.", "label": "ham"},
        {"text": "Lovely photos of the heron at the reservoir, thanks for sharing them.", "label": "ham"},
        {"text": "You brainless cretin, crawl back under your rock and stay there.", "label": "toxic"},
    ]
    with_fresh.write_text(concatenated.read_text() + "".join(json.dumps(r) + "\n" for r in fresh))
    dropped = runner.invoke(main, ["evaluate", "--data", str(with_fresh), "--out", str(out), "--no-suite",
                                   "--bootstrap", "0", "--drop-seen"])  # fmt: skip
    assert dropped.exit_code == 0, dropped.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"] == 3 and metrics["leakage"]["dropped"] == rows
    assert metrics["heads"]["toxicity"]["positives"] == 1 and "spam" not in metrics["heads"]


def test_evaluate_writes_and_refreshes_the_model_card(runner, env, model_dir, tmp_path, monkeypatch):
    import shutil

    models = tmp_path / "models"  # a copy: this test writes into the version folder
    shutil.copytree(model_dir, models)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(models))
    version_dir = models / "versions" / current_version(models)
    (version_dir / "model_card.md").unlink(missing_ok=True)
    only_card = runner.invoke(main, ["evaluate", "--card", "--no-suite"])
    assert only_card.exit_code == 0, only_card.output
    card = (version_dir / "model_card.md").read_text()
    assert "## Intended use" in card and "## Limitations" in card
    result = runner.invoke(main, ["evaluate", "--data", str(DATA / "jigsaw_sample.csv"), "--no-suite",
                                  "--bootstrap", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "threat: 1 positives" in result.output and "model card:" in result.output
    assert "| jigsaw_sample | toxicity | 6 |" in (version_dir / "model_card.md").read_text()


def _score(runner, source, target, *extra):
    return runner.invoke(main, ["score", "--input", str(source), "--output", str(target), *extra])


def test_score_reads_latin1_and_utf16_when_named_and_says_which_line_is_not_utf8(runner, env, tmp_path):
    import csv

    text = "id,text\n1,Caf\u00e9 au lait \u00e0 la gare\n2,Na\u00efve question about the r\u00e9sum\u00e9\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("latin-1"))
    target = tmp_path / "out.csv"
    failed = _score(runner, latin, target)
    assert failed.exit_code == 1 and isinstance(failed.exception, SystemExit)
    message = failed.output.strip()
    assert message.count("\n") == 0 and "line 2: bytes that are not valid utf-8" in message
    assert "--encoding" in message and "Traceback" not in failed.output and not target.exists()
    assert not list(tmp_path.glob(".out.csv*")), "no temporary file left behind"
    assert _score(runner, latin, target, "--encoding", "latin-1").exit_code == 0
    with target.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["text"] == "Caf\u00e9 au lait \u00e0 la gare" and float(rows[1]["toxicity"]) >= 0
    wide = tmp_path / "wide.csv"
    wide.write_bytes(text.encode("utf-16"))
    assert _score(runner, wide, target).exit_code == 1
    assert _score(runner, wide, target, "--encoding", "utf-16").exit_code == 0
    with target.open(encoding="utf-8") as fh:
        assert [r["text"] for r in csv.DictReader(fh)] == [r["text"] for r in rows]
    unknown = _score(runner, latin, target, "--encoding", "klingon")
    assert unknown.exit_code == 1 and "unknown encoding 'klingon'" in unknown.output


def test_score_stops_at_bad_rows_with_their_number_and_keeps_no_partial_output(runner, env, tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("the previous result\n")
    cases = {
        "extra.csv": ("id,text,lang\n1,Hello there,en\n2,Fine thanks,en,oops\n", "row 2 (line 3): 4 fields"),
        "short.csv": ("id,text,lang\n1,Hello there,en\n2,Fine thanks\n", "row 2 (line 3): 2 fields"),
        "unclosed.csv": ('id,text\n1,Hello\n2,"This quote never closes\n3,more\n4,rows\n',
                         "row 2 (line 3): a quoted cell is never closed"),
        "stray.csv": ('id,text\n1,"Opened here\n2,and "closed" oddly\n3,fine\n',
                      "row 1 (line 2): ',' expected after '\"'; is a quote left unclosed?"),
        "huge.csv": ("id,text\n1,short\n2," + "x" * (11 * 1024 * 1024) + "\n",
                     "row 2 (line 3): a cell is larger than 10 MiB"),
    }  # fmt: skip
    for name, (content, expected) in cases.items():
        source = tmp_path / name
        source.write_text(content)
        result = _score(runner, source, target, "--batch-size", "1")
        assert result.exit_code == 1, name
        assert expected in result.output and result.output.strip().count("\n") == 0, (name, result.output)
        assert target.read_text() == "the previous result\n", name
        assert not list(tmp_path.glob(".out.csv*")), name


def test_score_flags_empty_text_and_reports_progress_off_a_terminal(runner, env, tmp_path):
    import csv

    source = tmp_path / "in.csv"
    rows = ["id,text"] + [f"{i},Comment {i} about the new cycle lane" for i in range(2500)]
    rows[3] = "2,"
    rows[10] = '9,"   "'
    source.write_text("\n".join(rows) + "\n")
    target = tmp_path / "out.csv"
    result = _score(runner, source, target, "--batch-size", "500", "--progress-every", "1000")
    assert result.exit_code == 0, result.output
    assert "scored 2500 rows" in result.stdout and "2 with empty text flagged" in result.stdout
    progress = [line for line in result.stderr.splitlines() if line.startswith("scored ")]
    assert [line.split(" rows")[0] for line in progress] == ["scored 1000", "scored 2000"]
    assert "% of the file" in progress[0]
    with target.open() as fh:
        scored = list(csv.DictReader(fh))
    flagged = [r for r in scored if r["flag"]]
    assert [r["id"] for r in flagged] == ["2", "9"] and {r["flag"] for r in flagged} == {"empty_text"}
    assert flagged[0]["spam"] == "" and flagged[0]["toxicity"] == ""
    assert all(r["spam"] for r in scored if not r["flag"]) and len(scored) == 2500


def test_train_with_public_formats_and_moderator_labels(runner, env, tmp_path, monkeypatch):
    model_dir = tmp_path / "models"
    corpus_slice(model_dir, 30)
    monkeypatch.setenv("MODERATION_MODEL_DIR", str(model_dir))
    runner.invoke(main, ["db", "upgrade"])
    store = Store(make_engine(env["url"]))
    from tests.helpers import make_comment

    key, _ = store.create_key("client", "site")
    comment, _ = store.insert_comment(make_comment(key.id, text="Visit cheap-meds.example for pills"))
    store.add_label(comment, "ham", "cms_feedback", key.id)
    store.add_label(comment, "spam", "moderator", key.id)  # the latest verdict wins
    args = ["train", "--from-db"] + [
        a
        for f in ("jigsaw_sample.csv", "youtube_spam.csv", "sms_spam.tsv")
        for a in ("--data", str(DATA / f))
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 labels from the database" in result.output
    version = current_version(model_dir)
    manifest = json.loads((model_dir / "versions" / version / "manifest.json").read_text())
    formats = {d["format"]: d for d in manifest["data"]}
    assert {"jsonl", "jigsaw-csv", "youtube-spam-csv", "sms-spam-tsv", "labels"} <= set(formats)
    assert formats["labels"]["labels"] == {"ham": 0, "spam": 1, "toxic": 0}
    assert formats["jigsaw-csv"]["rows"] == 6 and len(formats["jigsaw-csv"]["sha256"]) == 64
    card = (model_dir / "versions" / version / "model_card.md").read_text()
    assert f"# Model card: {version}" in card and "| `jigsaw_sample.csv` | jigsaw-csv | 6 |" in card
    assert formats["jigsaw-csv"]["path"] == "jigsaw_sample.csv"  # outside the model folder: the name only
    assert str(tmp_path) not in json.dumps(manifest) and str(DATA) not in json.dumps(manifest)
    # The database labels used are exported beside the model, with their hash, text and label only.
    version_dir = model_dir / "versions" / version
    snapshot = version_dir / formats["labels"]["path"]
    assert formats["labels"]["path"] == "labels.jsonl" and formats["labels"]["origin"] == "database:labels"
    assert hashlib.sha256(snapshot.read_bytes()).hexdigest() == formats["labels"]["sha256"]
    rows = [json.loads(line) for line in snapshot.read_text().splitlines()]
    text = "Visit cheap-meds.example for pills"
    assert rows == [{"text": text, "label": "spam", "tags": [], "source": "moderator"}]
    # ... which rebuilds the same model without the database: same files, same hashes.
    time.sleep(1.1)  # versions are named by the second
    rebuilt = runner.invoke(main, ["train", *args[2:], "--data", str(snapshot)])
    assert rebuilt.exit_code == 0, rebuilt.output
    newest = sorted(list_versions(model_dir))[-1]
    again = json.loads((model_dir / "versions" / newest / "manifest.json").read_text())
    assert newest != version and again["files"] == manifest["files"]


@pytest.mark.slow
def test_running_service_switches_to_a_promoted_version_without_dropping_requests(tmp_path, model_dir):
    import shutil
    import threading

    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    current = current_version(models)
    clone = models / "versions" / "v-candidate"
    shutil.copytree(models / "versions" / current, clone)
    manifest = json.loads((clone / "manifest.json").read_text())
    manifest["version"] = "v-candidate"
    (clone / "manifest.json").write_text(json.dumps(manifest))

    # Rate limits off: one client posting as fast as it can passes 600 a minute, and a 429 is not
    # what this test is about.
    env = service_env(f"sqlite:///{tmp_path / 'reload.sqlite3'}", models, flood_seconds="0", rate_limit="off")
    db_upgrade(env)
    key = create_key(env, "client")
    server = start_instance(env, tmp_path / "serve.log", workers=2, migrate=True)
    base = server.base
    headers = {"Authorization": f"Bearer {key}"}
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def post_comments() -> None:
        with requests.Session() as session:
            n = 0
            while not stop.is_set():
                n += 1
                body = {"name": "Reader", "email": f"r{n}@example.org", "text": f"Comment number {n}."}
                response = session.post(f"{base}/v1/comments", json=body, headers=headers, timeout=10)
                statuses.append(response.status_code)
                if response.status_code == 201:
                    versions.add(response.json()["model_version"])

    try:
        wait_until_ready(server)
        worker = threading.Thread(target=post_comments)
        worker.start()
        time.sleep(1)
        promoted = subprocess.run(
            [*CLI, "promote", "v-candidate", "--force"], env=env, capture_output=True, text=True
        )
        assert promoted.returncode == 0, promoted.stderr
        deadline = time.monotonic() + 90  # a bound against hanging, not a speed target
        seen: set[str] = set()
        while seen != {"v-candidate"} and time.monotonic() < deadline:
            # Ask several times: each gunicorn worker must have switched.
            seen = {
                requests.get(f"{base}/v1/model", headers=headers, timeout=5).json()["version"]
                for _ in range(6)
            }
            time.sleep(0.3)
        # Keep posting until a comment is scored by the new version: under load the first
        # request a worker serves after the switch can take seconds (it loads the model).
        while "v-candidate" not in versions and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        worker.join(timeout=30)
    finally:
        stop.set()
        stop_instances(server)
    assert server.process.returncode == 0, server.tail()
    assert seen == {"v-candidate"}
    assert statuses and set(statuses) == {201}, "no request may fail while the model switches"
    assert versions == {current, "v-candidate"}


@pytest.mark.parametrize("keep_labels", [False, True])
def test_purge_deletes_old_comments_and_their_traces(runner, env, keep_labels):
    from datetime import timedelta

    from moderation.services.review import ReviewQueue
    from moderation.store.repository import Principal, utcnow
    from tests.helpers import make_comment

    runner.invoke(main, ["db", "upgrade"])
    store = Store(make_engine(env["url"]))
    key, _ = store.create_key("client", "site")
    mod, _ = store.create_key("moderator", "desk")
    old, _ = store.insert_comment(
        make_comment(key.id, created_at=utcnow() - timedelta(days=40), status="held", decision="hold")
    )
    new, _ = store.insert_comment(make_comment(key.id, status="held", decision="hold"))
    ReviewQueue(store).review(Principal(mod.id, mod.name, "moderator"), old.id, "reject", "spam", None)
    args = ["purge", "--older-than", "30"] + (["--keep-labels"] if keep_labels else [])
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 comments" in result.output and "1 reviews" in result.output
    assert store.get_comment(old.id) is None and store.get_comment(new.id) is not None
    labels = list(store.training_labels())
    if keep_labels:
        assert [(lab["text"], lab["label"], lab["name"]) for lab in labels] == [("Hello", "spam", "")]
    else:
        assert labels == []


def test_score_in_worker_processes_writes_what_one_process_writes(runner, env, tmp_path):
    """Batches scored in two processes come back in the input's order with the same scores."""
    import csv

    def corpus_texts(name: str, count: int) -> list[str]:
        return [json.loads(line)["text"] for line in (CORPUS / name).read_text().splitlines()[:count]]

    texts = corpus_texts("ham_general.jsonl", 180) + corpus_texts("spam_promo.jsonl", 60)
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for i, text in enumerate(texts):
            writer.writerow([i, "" if i % 50 == 7 else text])  # an empty text now and then
    outputs = {}
    for workers in ("1", "2"):
        target = tmp_path / f"out-{workers}.csv"
        result = _score(runner, source, target, "--batch-size", "25", "--workers", workers)
        assert result.exit_code == 0, result.output
        assert f"scored {len(texts)} rows" in result.stdout
        assert ("in 2 processes" in result.stdout) == (workers == "2")
        outputs[workers] = target.read_bytes()
    assert outputs["1"] == outputs["2"]
    with (tmp_path / "out-2.csv").open() as fh:
        scored = list(csv.DictReader(fh))
    assert [r["id"] for r in scored] == [str(i) for i in range(len(texts))]
    spam = [float(r["spam"]) for r in scored[180:] if r["spam"]]
    ham = [float(r["spam"]) for r in scored[:180] if r["spam"]]
    assert sum(spam) / len(spam) > 0.5 > sum(ham) / len(ham)  # the scores are the model's, in order
