"""Shared fixtures: a model trained once per session, an app per test, keys and a submit helper."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moderation.app import create_app
from moderation.classifier.datasets import load_corpus
from moderation.classifier.train import train
from moderation.store.database import upgrade

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "model" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model trained on our seed corpus, once per test session.

    MODERATION_TEST_MODEL_DIR may name a folder holding one already trained this way, to save the
    training time while iterating locally; CI never sets it.
    """
    reuse = os.environ.get("MODERATION_TEST_MODEL_DIR")
    if reuse and not os.environ.get("CI"):
        source = Path(reuse)
        directory = tmp_path_factory.mktemp("model")
        shutil.copytree(source / "versions", directory / "versions")
        shutil.copy2(source / "CURRENT", directory / "CURRENT")
    else:
        directory = tmp_path_factory.mktemp("model")
        train(load_corpus(CORPUS), directory, seed=13)
    # The corpus sits beside the versions, as in model/: `promote` recomputes the held-out split from it.
    (directory / "corpus").symlink_to(CORPUS, target_is_directory=True)
    return directory


def _service_url(variable: str, what: str) -> str:
    """The URL of a real server the test needs: skip locally without it, fail where it is required."""
    url = os.environ.get(variable)
    if url:
        return url
    if os.environ.get("MODERATION_TEST_REQUIRE_SERVICES") or os.environ.get("CI"):
        pytest.fail(f"{variable} must point at the {what} server in CI")
    pytest.skip(f"{variable} is not set (CI sets it and requires {what})")


def postgres_url() -> str:
    return _service_url("MODERATION_TEST_POSTGRES_URL", "PostgreSQL")


def redis_url() -> str:
    return _service_url("MODERATION_TEST_REDIS_URL", "Redis")


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


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against SQLite and against the real PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    upgrade(url)
    return url


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
def client(app):
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def keys(app) -> dict[str, str]:
    store = app.extensions["moderation"].store
    return {role: store.create_key(role, f"test {role}")[1] for role in ("client", "moderator", "admin")}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


_counter = itertools.count()


def comment(**fields: Any) -> dict[str, Any]:
    """A valid submission from a new author each time (so flood and duplicate checks stay quiet)."""
    n = next(_counter)
    body = {
        "name": f"Reader {n}",
        "email": f"reader{n}@example.org",
        "text": "Thanks, this explains the procurement delays clearly.",
    }
    body.update(fields)
    return body


@pytest.fixture
def submit(client, keys):
    """POST a comment as the client key and return the response."""

    def _submit(key: str | None = None, **fields: Any):
        return client.post("/v1/comments", json=comment(**fields), headers=auth(key or keys["client"]))

    return _submit
