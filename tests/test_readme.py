"""The README's first requests, run as written against a real `moderation serve`, answer what it shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.serving import service_env, start_instance, stop_instances, wait_until_ready

README = ROOT / "README.md"
# Values that differ on every run; every other string or integer shown must be in the real answer.
VOLATILE = {"id", "created_at", "model_version"}
BLOCK = re.compile(r"```(sh|json)\n(.*?)```", re.S)
MARKER = "@@ readme block {} done @@"


def readme_blocks() -> list[tuple[str, str | None]]:
    """The sh blocks between the readme-test markers, each with the json block shown right after it."""
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- readme-test: start -->", 1)[1].split("<!-- readme-test: end -->", 1)[0]
    blocks = BLOCK.findall(section)
    paired = []
    for i, (kind, body) in enumerate(blocks):
        if kind == "sh":
            shown = blocks[i + 1][1] if i + 1 < len(blocks) and blocks[i + 1][0] == "json" else None
            paired.append((body, shown))
    return paired


def shown_pairs(shown: str) -> set[tuple[str, str]]:
    """The "key": "value" and "key": integer pairs of a shown answer (which may hold … and be no JSON)."""
    pairs = re.findall(r'"(\w+)": ("[^"…]*"|-?\d+(?=[,}\s]))', shown)
    kept = [(key, value) for key, value in pairs if key not in VOLATILE]
    return {(key, json.loads(value) if value[0] == '"' else value) for key, value in kept}


def answer_pairs(answer: object) -> set[tuple[str, str]]:
    """Every key with a string or integer value, at any depth of a real answer."""
    found: set[tuple[str, str]] = set()
    if isinstance(answer, dict):
        for key, value in answer.items():
            if isinstance(value, str):
                found.add((key, value))
            elif isinstance(value, int) and not isinstance(value, bool):
                found.add((key, str(value)))
            else:
                found |= answer_pairs(value)
    elif isinstance(answer, list):
        for item in answer:
            found |= answer_pairs(item)
    return found


def test_the_marked_blocks_cover_a_held_comment_its_review_and_every_key_they_use():
    blocks = readme_blocks()
    script = "\n".join(body for body, _ in blocks)
    for variable in set(re.findall(r"\$([A-Za-z_]\w*)", script)):
        assert re.search(rf"^{variable}=", script, re.M), f"${variable} is used but no block sets it"
    assert any(shown and '"decision": "hold"' in shown for _, shown in blocks)
    reviewed = [shown for _, shown in blocks if shown and '"status": "rejected"' in shown]
    assert any('"decision": "hold"' in shown for shown in reviewed)


@pytest.mark.slow
def test_readme_first_requests_run_as_written(tmp_path, model_dir):
    # A checkout-like folder: the README calls .venv/bin/moderation; here it is this interpreter's.
    bin_dir = tmp_path / "checkout" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "moderation").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m moderation "$@"\n')
    (bin_dir / "moderation").chmod(0o755)
    instance_dir = tmp_path / "instance"
    env = service_env(
        f"sqlite:///{instance_dir / 'moderation.sqlite3'}", model_dir, instance_dir=str(instance_dir)
    )
    env["PYTHONPATH"] = str(ROOT)
    instance = start_instance(env, tmp_path / "serve.log", migrate=True)
    try:
        wait_until_ready(instance)
        blocks = readme_blocks()
        script = "set -eu\n" + "\n".join(
            f"{body}\necho; echo '{MARKER.format(n)}'" for n, (body, _) in enumerate(blocks)
        ).replace("localhost:8000", f"127.0.0.1:{instance.port}")
        done = subprocess.run(
            ["bash", "-c", script], cwd=bin_dir.parent.parent, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    finally:
        stop_instances(instance)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{instance.tail()}"
    outputs = re.split(r"@@ readme block \d+ done @@", done.stdout)
    assert len(outputs) == len(blocks) + 1
    checked = 0
    for (body, shown), output in zip(blocks, outputs, strict=False):
        if shown is None:
            continue
        # The answer shown is the block's last line of JSON output.
        answer = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
        missing = shown_pairs(shown) - answer_pairs(answer)
        assert not missing, f"README block\n{body}\nshows {sorted(missing)} but the service answered {answer}"
        checked += 1
    assert checked == sum(1 for _, shown in blocks if shown)
