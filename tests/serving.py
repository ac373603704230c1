"""Running the real service in tests: `moderation` CLI subprocesses and `moderation serve` (gunicorn).

A typical test::

    env = service_env(database_url, model_dir, rate_limit="off")
    db_upgrade(env)
    key = create_key(env, "client")
    instance = start_instance(env, tmp_path / "serve.log")
    try:
        wait_until_ready(instance)
        ...
    finally:
        stop_instances(instance)
    assert instance.process.returncode == 0, instance.tail()

A server's output always goes to a log file, never a pipe: nobody reads a pipe while the test runs, and
a full one blocks the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

CLI = [sys.executable, "-m", "moderation"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(database_url: str, model_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a service process: ours without stray MODERATION_* settings, plus settings.

    Each keyword names a setting without its prefix: `log_level="DEBUG"` sets MODERATION_LOG_LEVEL.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODERATION_") or k.startswith("MODERATION_TEST")
    }
    env.update({"MODERATION_DATABASE_URL": database_url, "MODERATION_MODEL_DIR": str(model_dir)})
    env.update({f"MODERATION_{name.upper()}": value for name, value in settings.items()})
    return env


def db_upgrade(env: dict[str, str]) -> None:
    """Run `moderation db upgrade` once, as the deploy job of a release does."""
    done = subprocess.run([*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def start_key(env: dict[str, str], role: str) -> subprocess.Popen[str]:
    """Start `moderation keys create` for role; read the key with key_of (several can run at once)."""
    return subprocess.Popen(
        [*CLI, "keys", "create", "--role", role, "--name", f"{role} {uuid.uuid4().hex[:6]}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def key_of(process: subprocess.Popen[str]) -> str:
    """Wait for a `keys create` process and return the key, the last line it prints."""
    try:
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    return out.strip().splitlines()[-1]


def create_key(env: dict[str, str], role: str) -> str:
    """Run `moderation keys create` for role and return the key."""
    return key_of(start_key(env, role))


@dataclass
class Instance:
    """One `moderation serve` process: the gunicorn master (it execs), its port and its log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 30) -> str:
        """Return the end of the instance's log, for assertion messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_instance(env: dict[str, str], log: Path, workers: int = 2, *, migrate: bool = False) -> Instance:
    """Start `moderation serve` on a free port of 127.0.0.1; stdout and stderr go to the file log.

    By default it starts with --no-migrate (run db_upgrade first); migrate=True lets serve upgrade the
    database itself, as it does without the flag.
    """
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
             *([] if migrate else ["--no-migrate"])],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Instance(process, port, log)


def wait_until_ready(instance: Instance, timeout: float = 60) -> None:
    """Poll /readyz until it answers 200; fail with the log if the service exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{instance.base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert instance.process.poll() is None, f"service exited before it was ready:\n{instance.tail()}"
        assert time.monotonic() < deadline, f"service did not become ready:\n{instance.tail()}"
        time.sleep(0.2)


def children(pid: int) -> set[int]:
    """Return the pids of pid's live child processes (gunicorn's workers for a master), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces; the fields after it are fixed.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def stop_instances(*instances: Instance) -> None:
    """Stop gracefully (SIGTERM to each master at once); kill masters and workers still there after 30 s.

    A master that had to be killed has a negative returncode: assert returncode == 0 afterwards to
    require a clean shutdown.
    """
    workers = {pid for instance in instances for pid in children(instance.process.pid)}
    for instance in instances:
        if instance.process.poll() is None:
            instance.process.terminate()
    deadline = time.monotonic() + 30
    for instance in instances:
        try:
            instance.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            instance.process.kill()
            instance.process.wait(timeout=10)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
