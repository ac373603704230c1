"""Shared fixtures: a model trained once per session, a database migrated once per session and
copied per test, an app per test (make_app for other settings), keys and a submit helper."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moderation.app import create_app
from moderation.classifier.datasets import load_corpus
from moderation.classifier.train import train
from moderation.store.database import upgrade
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, CORPUS, auth, comment, postgres_url, sign_in

_TRAINER_KEY = pytest.StashKey[subprocess.Popen]()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, start training the session model at once, in a process of its own.

    The controller holds the run's shared temporary folder (each worker's basetemp is a folder of
    it). It takes the session model's lock, hands it to the training process and lets go of its own
    copy, so the lock is held until training ends; the workers meanwhile run the tests that need no
    model (collected first), and the first one to need it waits on the lock as before.
    """
    if os.environ.get("MODERATION_TEST_MODEL_DIR") and not os.environ.get("CI"):
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # The session model is on the critical path: the workers yield the cores to its training
        # while they run the model-free tests, so that it is ready when those run out.
        os.nice(5)
        return
    if not getattr(config.option, "numprocesses", None):
        return
    shared = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    lock = open(shared / "session-model.lock", "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    code = (
        "import sys; from pathlib import Path; from moderation.classifier.datasets import load_corpus; "
        "from moderation.classifier.train import train; "
        "train(load_corpus(Path(sys.argv[1])), Path(sys.argv[2]), seed=13)"
    )
    log = open(shared / "session-model.log", "w")  # noqa: SIM115
    config.stash[_TRAINER_KEY] = subprocess.Popen(
        [sys.executable, "-c", code, str(CORPUS), str(shared / "session-model")],
        pass_fds=(lock.fileno(),),  # the child's copy of the lock keeps it held until it exits
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )
    lock.close()
    log.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the training process if the run ends first (a selection that needed no model)."""
    trainer = config.stash.get(_TRAINER_KEY, None)
    if trainer is not None and trainer.poll() is None:
        trainer.terminate()
        trainer.wait()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that need no session model first, each part in the order collected, so that
    under pytest-xdist the other worker can run some while the first one to need the model trains
    it (with --dist loadgroup both still reach a model test early: see README)."""
    items.sort(key=lambda item: "model_dir" in getattr(item, "fixturenames", ()))
    if getattr(config.option, "loadgroup", False):
        _apply_xdist_groups(items)


def _apply_xdist_groups(items: list[pytest.Item]) -> None:
    """Suffix each grouped test's id with its xdist group, as pytest-xdist does for --dist loadgroup.

    pytest-xdist 3.8 sets `item._nodeid`, which pytest 9 no longer reads (the id is `item._id`),
    so its groups are silently ignored there; this does what it means to. Once xdist sets the id
    pytest reads, the suffix is already there and this leaves the test alone.
    """
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest 8: xdist's own renaming works
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})  # fmt: skip
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model trained on our seed corpus, once per test session, in a folder of this process.

    Under pytest-xdist (`make test` runs two workers) the first worker to get here trains it into
    the run's shared temporary folder while holding a lock; every worker, that one too, then copies
    it into a folder of its own, so no test sees another worker change its model folder.

    MODERATION_TEST_MODEL_DIR may name a folder holding one already trained this way, to save the
    training time while iterating locally; CI never sets it.
    """
    reuse = os.environ.get("MODERATION_TEST_MODEL_DIR")
    if reuse and not os.environ.get("CI"):
        source = Path(reuse)
    else:
        source = _session_model(tmp_path_factory)
    directory = tmp_path_factory.mktemp("model")
    shutil.copytree(source / "versions", directory / "versions")
    shutil.copy2(source / "CURRENT", directory / "CURRENT")
    # The corpus sits beside the versions, as in model/: `promote` recomputes the held-out split from it.
    (directory / "corpus").symlink_to(CORPUS, target_is_directory=True)
    return directory


def _session_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the run's one trained session model: trained here unless a worker did already."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        directory = tmp_path_factory.mktemp("session-model")
        train(load_corpus(CORPUS), directory, seed=13)
        return directory
    # Every worker's basetemp is a folder of the run's one temporary folder.
    shared = tmp_path_factory.getbasetemp().parent
    directory = shared / "session-model"
    with open(shared / "session-model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or if this worker dies
        if not (directory / "CURRENT").exists():
            shutil.rmtree(directory, ignore_errors=True)  # a worker that died while training
            train(load_corpus(CORPUS), directory, seed=13)
    return directory


@pytest.fixture
def postgres_schema_url() -> Any:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = postgres_url()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the latest revision once per session; tests get copies of it.

    The migrations themselves are tested where they are the subject (test_store, test_cli).
    """
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    upgrade(f"sqlite:///{path}")  # the engine is disposed: no -wal or -shm file is left beside it
    return path


def migrated_copy(template: Path, path: Path) -> str:
    """Copy the migrated template to path; return its URL."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against SQLite and against the real PostgreSQL server, both migrated."""
    if request.param == "sqlite":
        return migrated_copy(request.getfixturevalue("migrated_sqlite"), tmp_path / "store.sqlite3")
    url = request.getfixturevalue("postgres_schema_url")
    upgrade(url)
    return url


@pytest.fixture
def sqlite_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    return migrated_copy(migrated_sqlite, tmp_path / "app.sqlite3")


@pytest.fixture
def app_config(sqlite_url: str, model_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """Overrides for create_app; tests change entries before asking for `app`."""
    return {
        "database_url": sqlite_url,
        "model_dir": str(model_dir),
        "instance_dir": str(tmp_path / "instance"),
        "rate_limit": "off",
    }


@pytest.fixture
def app(app_config: dict[str, Any]):
    return create_app(app_config)


@pytest.fixture
def make_app(app_config: dict[str, Any]):
    """Build another app on the test's database and model with settings changed: make_app(spam_hold=0)."""

    def _make(**overrides: Any):
        return create_app({**app_config, **overrides})

    return _make


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def keys(app) -> dict[str, str]:
    store = app.extensions["moderation"].store
    return {role: store.create_key(role, f"test {role}")[1] for role in ("client", "moderator", "admin")}


@pytest.fixture
def moderator(client, keys):
    """A test client signed in to the moderators' pages with the moderator key."""
    assert sign_in(client, keys["moderator"]).status_code == 303
    return client


@pytest.fixture
def submit(client, keys):
    """POST a comment as the client key and return the response."""

    def _submit(key: str | None = None, **fields: Any):
        return client.post("/v1/comments", json=comment(**fields), headers=auth(key or keys["client"]))

    return _submit


@pytest.fixture(scope="session")
def chromium():
    """One Debian chromium, driven by Playwright, for the whole session: each test opens its own
    context (cookies, storage and pages of its own). Modules check that chromium is installed first."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
