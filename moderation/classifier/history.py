"""The promotion history: every switch of the current model, appended to `promotions.jsonl`.

It is the audit trail of the model folder (who switched to which version, from which, when,
whether the gate was overridden with `--force` and what the gate said) and what `promote
--rollback` reads to know the previous version. One JSON object a line, appended with a single
write; a damaged line is skipped, never fatal.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HISTORY_FILE = "promotions.jsonl"
ACTIONS = ("train", "promote", "rollback")


class HistoryError(RuntimeError):
    """The history cannot answer the question (no previous version to roll back to)."""


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def record_switch(
    model_dir: Path,
    action: str,
    version: str,
    previous: str | None,
    forced: bool = False,
    gate: list[str] | None = None,
) -> dict[str, Any]:
    """Append one switch of the current model to the history and log it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    entry: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "action": action,
        "version": version,
        "previous": previous,
        "forced": forced,
        "by": _who(),
    }
    if gate is not None:
        entry["gate"] = gate
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    path = Path(model_dir) / HISTORY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    level = logging.WARNING if forced else logging.INFO
    log.log(level, "model %s: %s (was %s)%s", action, version, previous, " with --force" if forced else "")
    return entry


def read_history(model_dir: Path) -> list[dict[str, Any]]:
    path = Path(model_dir) / HISTORY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("action") in ACTIONS and entry.get("version"):
            entries.append(entry)
    return entries


def version_stack(model_dir: Path) -> list[str]:
    """The versions that were current, oldest first, with rolled-back ones popped off."""
    stack: list[str] = []
    for entry in read_history(model_dir):
        if entry["action"] == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != entry["version"]:
                stack.append(entry["version"])
            continue
        previous = entry.get("previous")
        if not stack and previous:
            stack.append(previous)
        if stack and previous and stack[-1] != previous:
            # The pointer was changed outside the history (by hand): trust what the entry saw.
            stack.append(previous)
        if not stack or stack[-1] != entry["version"]:
            stack.append(entry["version"])
    return stack


def previous_version(model_dir: Path, current: str | None) -> str:
    """The version that was current before `current`, for a rollback."""
    stack = version_stack(model_dir)
    if current is None:
        raise HistoryError("no model is current; nothing to roll back")
    if not stack or stack[-1] != current:
        raise HistoryError(
            f"the promotion history ({HISTORY_FILE}) does not end with the current version {current}; "
            "promote the version you want explicitly"
        )
    if len(stack) < 2:
        raise HistoryError(f"{current} has no previous version in the promotion history")
    return stack[-2]
