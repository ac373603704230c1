"""Attribute heads: which rows teach them, the configured cut-offs, and the service acting on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from moderation.app import create_app
from moderation.classifier.bundle import ModelBundle
from moderation.classifier.datasets import Example
from moderation.classifier.heads import ATTRIBUTE_HEADS, head_labels, target
from moderation.config import ConfigError, Settings
from moderation.pipeline.domain import Thresholds, parse_attribute_thresholds
from moderation.pipeline.policy import decide
from tests.helpers import auth, comment

THREAT = "I know which street you live on and I will come round and break your legs tonight."
CIVIL = "The committee's report on helicopter maintenance is worth reading in full."


def test_ham_is_negative_for_every_attribute_but_swearing_at_no_one_is_profanity() -> None:
    plain = Example("Good piece on the budget.", "ham")
    swearing = Example("bloody trains cancelled again", "ham", ("profanity",))
    assert all(target(plain, head) == 0 for head in ATTRIBUTE_HEADS)
    assert target(swearing, "profanity") == 1
    assert target(swearing, "insult") == 0


def test_an_untagged_toxic_row_says_nothing_about_its_kind() -> None:
    untagged = Example("some abuse from a binary file", "toxic")
    tagged = Example("you absolute moron", "toxic", ("insult",))
    y, known = head_labels([untagged, tagged], "insult")
    assert known.tolist() == [False, True]
    assert y[known].tolist() == [1]
    assert target(tagged, "threat") == 0
    assert target(untagged, "toxicity") == 1  # the deciding heads still learn from it


def test_adult_spam_teaches_the_sexually_explicit_head() -> None:
    assert target(Example("hot singles near you, click", "spam", ("adult",)), "sexually_explicit") == 1
    assert target(Example("cheap watches here", "spam", ("promo",)), "sexually_explicit") == 0
    assert target(Example("cheap watches here", "spam"), "sexually_explicit") is None


def test_attribute_thresholds_parse_and_refuse_nonsense() -> None:
    parsed = parse_attribute_thresholds(["THREAT:reject=0.8", "identity_attack:hold=0.5", "threat:hold=0.6"])
    assert parsed == {"threat": (0.6, 0.8), "identity_attack": (0.5, None)}
    for bad in ("threat=0.8", "rudeness:hold=0.5", "threat:block=0.5", "threat:hold=1.5", "threat:hold=x"):
        with pytest.raises(ValueError):
            parse_attribute_thresholds([bad])
    with pytest.raises(ValueError, match="above reject"):
        parse_attribute_thresholds(["threat:hold=0.9", "threat:reject=0.8"])
    with pytest.raises(ConfigError, match="attribute_thresholds"):
        Settings.load(environ={"MODERATION_ATTRIBUTE_THRESHOLDS": "insult:reject=2"})
    loaded = Settings.load(environ={"MODERATION_ATTRIBUTE_THRESHOLDS": "threat:reject=0.8,insult:hold=0.4"})
    assert loaded.attribute_thresholds == ("threat:reject=0.8", "insult:hold=0.4")


def test_an_attribute_decides_only_where_a_cut_off_is_set() -> None:
    scores = {"spam": 0.01, "toxicity": 0.3, "threat": 0.85, "identity_attack": 0.6}
    assert decide([], scores, Thresholds()).outcome.value == "approve"
    rejected = decide([], scores, Thresholds(attributes={"threat": (None, 0.8)}))
    assert rejected.outcome.value == "reject"
    assert rejected.reason.code == "toxicity"
    assert rejected.reason.detail == {"score": 0.85, "attribute": "THREAT"}
    held = decide([], scores, Thresholds(attributes={"identity_attack": (0.5, None), "threat": (None, 0.9)}))
    assert held.outcome.value == "hold"
    assert held.reason.code == "uncertain"
    assert held.reason.detail == {"heads": [], "attributes": ["IDENTITY_ATTACK"]}


def test_the_trained_model_scores_every_attribute_and_tells_them_apart(model_dir: Path) -> None:
    bundle = ModelBundle.load_current(model_dir)
    assert set(ATTRIBUTE_HEADS) <= set(bundle.heads)
    assert set(bundle.manifest["heads"]) == set(bundle.heads)
    threat, civil = bundle.score({"text": THREAT}), bundle.score({"text": CIVIL})
    assert threat["threat"] > 0.5 > civil["threat"]
    assert threat["threat"] > threat["sexually_explicit"]
    batch = bundle.score_many([{"text": THREAT}, {"text": CIVIL}])
    for head in bundle.heads:  # the fast single-comment path and the batch path agree on every head
        assert batch[head][0] == pytest.approx(threat[head], abs=1e-6)
        assert batch[head][1] == pytest.approx(civil[head], abs=1e-6)
    held_out = bundle.manifest["metrics"]["held_out"]
    assert all(held_out[head]["roc_auc"] > 0.8 for head in ATTRIBUTE_HEADS)


def test_the_service_rejects_on_a_configured_attribute_and_names_it(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "attribute_thresholds": "threat:reject=0.5"})
    store = app.extensions["moderation"].store
    key = store.create_key("client", "site")[1]
    client = app.test_client()
    answer = client.post("/v1/comments", json=comment(text=THREAT), headers=auth(key)).get_json()
    assert answer["decision"] == "reject"
    assert answer["scores"]["threat"] >= 0.5
    # The CMS sees a toxicity reason; the stored detail (shown to moderators) names the attribute.
    stored = store.get_comment(answer["id"])
    named = [r for r in stored.reasons if (r.get("detail") or {}).get("attribute") == "THREAT"]
    assert named and named[0]["code"] == "toxicity"
    assert {"code": "toxicity", "message": named[0]["message"]} in answer["reasons"]
    civil = client.post("/v1/comments", json=comment(text=CIVIL), headers=auth(key)).get_json()
    assert civil["decision"] == "approve"
    assert "threat" in civil["scores"]
