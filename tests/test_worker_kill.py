"""Faults: a gunicorn worker killed with SIGKILL under load loses no acknowledged comment."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
import requests
from sqlalchemy import text

from moderation.store.database import make_engine
from tests.helpers import CLEAN_TEXTS, auth
from tests.serving import (
    Instance,
    children,
    db_upgrade,
    key_of,
    service_env,
    start_instance,
    start_key,
    stop_instances,
    wait_until_ready,
)

pytestmark = pytest.mark.slow

CLIENTS = 3  # posting threads; small, the machine has two cores


def _wait_for(condition: Any, timeout: float, message: str, instance: Instance) -> None:
    """Poll condition() every 0.1 s until it is true; fail with message and the log after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{message}:\n{instance.tail()}"
        time.sleep(0.1)


class Load:
    """A few threads posting comments without pause, each with its own client_comment_id."""

    def __init__(self, base: str, key: str, deadline: float) -> None:
        self.base, self.key, self.deadline = base, key, deadline
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[str, dict[str, Any]] = {}  # client_comment_id -> the body sent
        self.acknowledged: dict[str, dict[str, Any]] = {}  # client_comment_id -> the 2xx answer
        self.refused: dict[str, str] = {}  # client_comment_id -> why the request got no answer
        self.other: dict[str, int] = {}  # client_comment_id -> a status that is neither 2xx nor nothing
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(CLIENTS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=40)
        assert not any(thread.is_alive() for thread in self.threads), "a client thread is stuck"

    def _run(self, n: int) -> None:
        i = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            i += 1
            cid = f"kill-{n}-{i}"
            body = {
                "name": f"Reader {n}-{i}",
                "email": f"reader-{n}-{i}@example.org",
                "text": CLEAN_TEXTS[i % len(CLEAN_TEXTS)],
                "client_comment_id": cid,
            }
            with self.lock:
                self.sent[cid] = body
            try:
                response = requests.post(
                    f"{self.base}/v1/comments", json=body, headers=auth(self.key), timeout=30
                )
            except requests.RequestException as exc:
                with self.lock:
                    self.refused[cid] = type(exc).__name__
                continue
            with self.lock:
                if 200 <= response.status_code < 300:
                    self.acknowledged[cid] = response.json()
                else:
                    self.other[cid] = response.status_code


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_of_a_worker_under_load_loses_no_acknowledged_comment(backend, request, model_dir, tmp_path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    env = service_env(url, model_dir, rate_limit="off", instance_dir=str(tmp_path / "instance"))
    db_upgrade(env)
    instance: Instance | None = None
    load: Load | None = None
    try:
        maker = start_key(env, "client")
        instance = start_instance(env, tmp_path / "serve.log", workers=2)
        key = key_of(maker)
        wait_until_ready(instance)
        master = instance.process.pid  # `moderation serve` execs gunicorn: the Popen pid is the master
        _wait_for(lambda: len(children(master)) == 2, 30, "gunicorn did not start two workers", instance)
        before = children(master)

        load = running = Load(instance.base, key, deadline=time.monotonic() + 60)
        running.start()
        _wait_for(lambda: len(running.acknowledged) >= 10, 30, "no load reached the service", instance)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        acknowledged_at_kill = len(running.acknowledged)
        # Keep posting while the master notices and forks a replacement, and for a moment after.
        _wait_for(
            lambda: len(children(master) - before) == 1,
            30,
            "the master did not replace the killed worker",
            instance,
        )
        _wait_for(
            lambda: len(running.acknowledged) >= acknowledged_at_kill + 10,
            30,
            "the service stopped answering after the kill",
            instance,
        )
        running.finish()
        # Shown with `pytest -rP`: how many requests the kill cost.
        print(f"{backend}: {len(running.acknowledged)} acknowledged, {len(running.refused)} without answer, "
              f"{len(running.other)} error statuses; killed worker {victim}")  # fmt: skip

        after = children(master)
        assert victim not in after and len(after) == 2 and len(after - before) == 1
        assert requests.get(f"{instance.base}/readyz", timeout=10).status_code == 200
        _every_acknowledged_comment_is_stored(instance, key, running)
        _replays_of_unanswered_requests_store_each_once(instance, key, running)
        _one_row_per_comment_sent(url, running)
    finally:
        if load is not None:
            load.stop.set()
        if instance is not None:
            stop_instances(instance)


def _every_acknowledged_comment_is_stored(instance: Instance, key: str, load: Load) -> None:
    """Every 2xx answer is retrievable, identical; only requests in flight on the killed worker failed."""
    assert not load.other, f"requests answered with an error status: {load.other}"
    # A worker's threads may each hold a request of one of the clients: at most all of them are lost.
    assert len(load.refused) <= CLIENTS, (
        f"more requests failed than the killed worker had in flight: {load.refused}"
    )
    assert len(load.acknowledged) + len(load.refused) == len(load.sent)
    for cid, answer in load.acknowledged.items():
        stored = requests.get(f"{instance.base}/v1/comments/{answer['id']}", headers=auth(key), timeout=10)
        assert stored.status_code == 200, (cid, stored.status_code, stored.text)
        assert {k: v for k, v in stored.json().items() if k != "review"} == answer


def _replays_of_unanswered_requests_store_each_once(instance: Instance, key: str, load: Load) -> None:
    """The CMS retries what got no answer with the same client_comment_id: stored once, answered 2xx."""
    for cid in list(load.refused):
        retry = requests.post(
            f"{instance.base}/v1/comments", json=load.sent[cid], headers=auth(key), timeout=30
        )
        # 200 if the killed worker had committed it before dying, 201 if it had not.
        assert retry.status_code in (200, 201), retry.text
        assert retry.json()["client_comment_id"] == cid


def _one_row_per_comment_sent(url: str, load: Load) -> None:
    """After the retries the database holds exactly one row per client_comment_id sent."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT count(*), count(DISTINCT client_comment_id) FROM comments")
            ).one()
    finally:
        engine.dispose()
    assert tuple(rows) == (len(load.sent), len(load.sent))
