"""Perspective clients against a running `moderation serve`: Google's official Python client through our
discovery document, and the exact request Coral's toxic phase builds, with Coral's decision on our answer."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from googleapiclient import discovery
from googleapiclient.errors import HttpError
from sqlalchemy import create_engine, text

from tests.serving import (
    create_key,
    db_upgrade,
    service_env,
    start_instance,
    stop_instances,
    wait_until_ready,
)

# One xdist worker runs the whole module: its server starts once.
pytestmark = pytest.mark.xdist_group("test_perspective_client")

CLEAN = "Thanks for the clear write-up on the new bus timetable, it helped me plan my week."
TOXIC = "You are a worthless idiot and everyone here hates your stupid face."
FRENCH = "Merci pour cet article, je ne savais pas que le pont était si vieux et si beau."
# Coral's defaults: the TOXICITY model, a threshold of 80 (per cent), doNotStore on.
CORAL_MODEL = "TOXICITY"
CORAL_THRESHOLD = 0.8


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, model_dir: Path):
    folder = tmp_path_factory.mktemp("perspective")
    database = f"sqlite:///{folder / 'serve.sqlite3'}"
    env = service_env(database, model_dir, rate_limit="off")
    db_upgrade(env)
    key = create_key(env, "client")
    instance = start_instance(env, folder / "serve.log", workers=1)
    try:
        wait_until_ready(instance)
        yield {"base": instance.base, "key": key, "database": database, "instance": instance}
    finally:
        stop_instances(instance)
    log = instance.log.read_text(errors="replace")
    # The key travels in the query string of every call: no log line may carry it (gunicorn's included).
    assert key not in log and key.split("_", 2)[2] not in log
    assert "comments:analyze" in log  # the access lines were there to check


def count(database: str, sql: str) -> int:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def build(service, key: str):
    """Google's client exactly as a Perspective user builds it, with our discovery URL."""
    return discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=key,
        discoveryServiceUrl=f"{service['base']}/$discovery/rest",
        static_discovery=False,
        cache_discovery=False,
    )


@pytest.fixture(scope="module")
def google(service):
    with build(service, service["key"]) as client:
        yield client


@pytest.mark.slow
def test_google_client_analyzes_several_attributes_with_spans(google):
    text_in = f"{CLEAN} {TOXIC}"
    answer = (
        google.comments()
        .analyze(
            body={
                "comment": {"text": text_in, "type": "PLAIN_TEXT"},
                "requestedAttributes": {
                    "TOXICITY": {},
                    "INSULT": {},
                    "THREAT": {},
                    "SPAM": {"scoreType": "PROBABILITY"},
                },
                "spanAnnotations": True,
                "languages": ["en"],
                "doNotStore": True,
                "clientToken": "tok-1",
            }
        )
        .execute()
    )
    assert set(answer["attributeScores"]) == {"TOXICITY", "INSULT", "THREAT", "SPAM"}
    spans = answer["attributeScores"]["TOXICITY"]["spanScores"]
    assert [text_in[s["begin"] : s["end"]] for s in spans] == [CLEAN, TOXIC]
    assert spans[1]["score"]["value"] > spans[0]["score"]["value"]
    assert answer["clientToken"] == "tok-1" and answer["languages"] == ["en"]


@pytest.mark.slow
def test_google_client_threshold_omits_an_attribute(google):
    body = {
        "comment": {"text": CLEAN},
        "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.9}, "SPAM": {}},
        "doNotStore": True,
    }
    answer = google.comments().analyze(body=body).execute()
    assert list(answer["attributeScores"]) == ["SPAM"]


@pytest.mark.slow
def test_google_client_do_not_store_stores_nothing_and_otherwise_keeps_the_analysis(google, service):
    before = count(service["database"], "SELECT count(*) FROM analyses")
    body = {"comment": {"text": TOXIC}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": True}
    google.comments().analyze(body=body).execute()
    assert count(service["database"], "SELECT count(*) FROM analyses") == before
    google.comments().analyze(body={**body, "doNotStore": False}).execute()
    assert count(service["database"], "SELECT count(*) FROM analyses") == before + 1


@pytest.mark.slow
def test_google_client_suggestscore_stores_a_label(google, service):
    body = {
        "comment": {"text": TOXIC},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
        "communityId": "Coral:https://news.example.org",
        "clientToken": "comment:7",
    }
    answer = google.comments().suggestscore(body=body).execute()
    assert answer["clientToken"] == "comment:7"
    sql = "SELECT count(*) FROM labels WHERE source = 'perspective_suggest' AND label = 'toxic'"
    assert count(service["database"], sql) == 1


@pytest.mark.slow
def test_google_client_bad_key_and_unsupported_language(service):
    body = {"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {}}}
    with build(service, "mk_000000000000_notakey") as wrong, pytest.raises(HttpError) as refused:
        wrong.comments().analyze(body=body).execute()
    assert refused.value.resp.status == 400
    assert json.loads(refused.value.content)["error"]["details"][0]["errorType"] == "API_KEY_INVALID"

    with build(service, service["key"]) as right, pytest.raises(HttpError) as unsupported:
        right.comments().analyze(body={**body, "comment": {"text": FRENCH}}).execute()
    error = json.loads(unsupported.value.content)["error"]
    assert unsupported.value.resp.status == 400
    assert error["details"][0]["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert error["details"][0]["languageNotSupportedByAttributeError"]["detectedLanguages"] == ["fr"]


def coral_url(endpoint: str, operation: str, key: str) -> str:
    """The URL Coral calls: the operation joined onto the endpoint's path, the key as ?key=."""
    parts = urlsplit(endpoint.strip())
    # Node's path.join keeps both parts (Python's would drop the first before an absolute second).
    path = posixpath.normpath(f"{parts.path}/{operation}")
    return urlunsplit((parts.scheme, parts.netloc, path, f"key={key}", ""))


def coral_toxic_phase(endpoint: str, key: str, comment_text: str, locale: str = "en-US") -> dict:
    """Coral's toxic phase: its analyze request (defaults: TOXICITY, doNotStore) and its decision."""
    language = {"en-US": "en", "es": "es", "fr-FR": "fr", "de": "de", "pt-BR": "pt"}.get(locale, "en")
    body = {
        "comment": {"text": comment_text},
        "doNotStore": True,
        "requestedAttributes": {CORAL_MODEL: {}},
        "languages": [language],
    }
    response = requests.post(
        coral_url(endpoint, "comments:analyze", key),
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    if not response.ok:
        return {"ok": False, "status": response.status_code}
    score = response.json()["attributeScores"][CORAL_MODEL]["summaryScore"]["value"]
    # Coral withholds the comment and flags it only when the score is strictly above the threshold.
    if score > CORAL_THRESHOLD:
        return {"ok": True, "status": "SYSTEM_WITHHELD", "flag": "COMMENT_DETECTED_TOXIC", "score": score}
    return {"ok": True, "status": None, "score": score}


@pytest.mark.slow
def test_coral_toxic_phase_against_our_endpoint(service):
    endpoint = f"{service['base']}/v1alpha1"  # the one setting a Coral admin changes
    assert (
        coral_url(endpoint, "comments:analyze", "k") == f"{service['base']}/v1alpha1/comments:analyze?key=k"
    )
    before = count(service["database"], "SELECT count(*) FROM analyses")
    toxic = coral_toxic_phase(endpoint, service["key"], TOXIC)
    assert toxic["ok"] and toxic["status"] == "SYSTEM_WITHHELD" and toxic["score"] > CORAL_THRESHOLD
    clean = coral_toxic_phase(endpoint, service["key"], CLEAN)
    assert clean["ok"] and clean["status"] is None and clean["score"] <= CORAL_THRESHOLD
    # Coral's doNotStore default: nothing kept.
    assert count(service["database"], "SELECT count(*) FROM analyses") == before
    # A French-language Coral tenant asks for fr: refused, and Coral then leaves the comment alone.
    assert coral_toxic_phase(endpoint, service["key"], CLEAN, locale="fr-FR") == {"ok": False, "status": 400}
