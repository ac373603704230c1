"""The CMS path over HTTP: decisions, reason codes, replays, errors and roles."""

import threading

import pytest

from tests.helpers import SPAM, TOXIC, auth, comment

CLEAN = "Good piece. The section on the frigate programme's delays was especially clear."


def codes(response):
    return [r["code"] for r in response.json["reasons"]]


def test_clean_comment_is_approved_and_stored(submit, client, keys):
    response = submit(text=CLEAN)
    assert response.status_code == 201
    body = response.json
    assert (body["decision"], body["status"], body["reason"]["code"]) == ("approve", "approved", "clean")
    assert {"spam", "toxicity", "threat", "identity_attack"} <= set(body["scores"])
    assert all(0 <= v <= 1 for v in body["scores"].values())
    assert body["model_version"].startswith("v")
    stored = client.get(f"/v1/comments/{body['id']}", headers=auth(keys["client"]))
    assert stored.status_code == 200
    assert stored.json["decision"] == "approve" and stored.json["review"] is None


def test_response_hides_moderator_detail(submit):
    body = submit(text=SPAM).json
    assert "evidence" not in body and "signals" not in body
    assert set(body["reason"]) == {"code", "message"}


def test_obvious_spam_is_rejected_as_spam(submit):
    response = submit(text=SPAM)
    assert response.json["decision"] == "reject"
    assert response.json["reason"]["code"] == "spam"


def test_abuse_is_rejected_as_toxicity(submit):
    response = submit(text=TOXIC)
    assert response.json["decision"] == "reject"
    assert "toxicity" in codes(response)


@pytest.mark.parametrize(
    ("overrides", "fields", "decision", "code"),
    [
        ({}, {"honeypot": "filled by a bot"}, "reject", "honeypot"),
        ({"blocked_terms": "casino"}, {"text": "Try the best CASINO bonus."}, "reject", "blocked_term"),
        ({"watched_terms": "referendum"}, {"text": "When is the referendum?"}, "hold", "watched_term"),
        ({"blocked_authors": "@blocked.example"}, {"email": "a@blocked.example"}, "reject", "blocked_author"),
        ({}, {"text": "See https://a.example/x and https://b.example/y"}, "hold", "links"),
        ({}, {"elapsed_ms": 200}, "hold", "too_fast"),
        ({"hold_new_authors": True}, {}, "hold", "new_author"),
        ({"spam_hold": 0.0, "toxicity_hold": 0.0}, {}, "hold", "uncertain"),
    ],
)
def test_each_rule_reason_code_over_http(app_config, overrides, fields, decision, code):
    from moderation.app import create_app
    from moderation.store.repository import Store

    app_config.update(overrides)
    app = create_app(app_config)
    store: Store = app.extensions["moderation"].store
    key = store.create_key("client", "cms")[1]
    response = app.test_client().post(
        "/v1/comments", json=comment(**{"text": CLEAN, **fields}), headers=auth(key)
    )
    assert response.status_code == 201
    assert response.json["decision"] == decision
    assert response.json["reason"]["code"] == code


def test_duplicate_from_same_author_is_rejected_with_wordpress_message(submit):
    first = submit(email="dup@example.org", text=CLEAN)
    assert first.json["decision"] == "approve"
    second = submit(email="DUP@example.org", text=CLEAN.upper() + "  ")
    assert second.json["reason"] == {
        "code": "duplicate",
        "message": "Duplicate comment detected; it looks as though you've already said that.",
    }


def test_flood_from_same_ip_is_a_decision_not_a_429(submit):
    submit(ip="203.0.113.9", text=CLEAN)
    second = submit(ip="203.0.113.9", text="A different remark about the same article.")
    assert second.status_code == 201
    assert second.json["decision"] == "reject"
    assert second.json["reason"] == {
        "code": "flood",
        "message": "You are posting comments too quickly. Slow down.",
    }


def test_trusted_author_gets_benefit_of_doubt_on_borderline_scores(app_config):
    from moderation.app import create_app

    app_config.update({"spam_hold": 0.0, "toxicity_hold": 0.0, "flood_seconds": 0})
    app = create_app(app_config)
    ext = app.extensions["moderation"]
    key = ext.store.create_key("client", "cms")[1]
    client = app.test_client()
    first = client.post("/v1/comments", json=comment(email="old@example.org", text=CLEAN), headers=auth(key))
    assert first.json["reason"]["code"] == "uncertain"
    # A moderator approves the first comment (the review API is its own issue; the store is real).
    with ext.store.sessions.begin() as session:
        from moderation.store.tables import Comment

        session.get(Comment, first.json["id"]).status = "approved"
    second = client.post(
        "/v1/comments",
        json=comment(email="old@example.org", text="One more thought: the navy budget needs a rethink."),
        headers=auth(key),
    )
    assert second.json["decision"] == "approve"
    assert second.json["reason"]["code"] == "trusted_author"


def test_original_text_is_stored_untouched(app, submit):
    raw = "  Zero\u200bwidth and  double  spaces stay as sent.\n"
    body = submit(text=raw).json
    stored = app.extensions["moderation"].store.get_comment(body["id"])
    assert stored.text == raw.strip()
    assert "\u200b" in stored.text


def test_replayed_client_comment_id_returns_stored_decision(submit, app):
    first = submit(client_comment_id=777, text=CLEAN)
    replay = submit(client_comment_id="777", text="completely different text that would score otherwise")
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json == first.json
    assert app.extensions["moderation"].store.count_comments() == 1


def test_same_client_comment_id_from_another_client_is_a_new_comment(submit, app):
    other = app.extensions["moderation"].store.create_key("client", "other site")[1]
    assert submit(client_comment_id="c1").status_code == 201
    assert submit(key=other, client_comment_id="c1").status_code == 201


def test_concurrent_replays_store_exactly_one_row(app, keys):
    body = comment(client_comment_id="race-1", text=CLEAN)
    results = []
    barrier = threading.Barrier(8)

    def post():
        client = app.test_client()
        barrier.wait()
        results.append(client.post("/v1/comments", json=body, headers=auth(keys["client"])))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1 and statuses.count(200) == 7
    assert len({r.json["id"] for r in results}) == 1
    assert app.extensions["moderation"].store.count_comments() == 1


# --- errors -----------------------------------------------------------------------------------


def test_validation_names_every_bad_field(client, keys):
    bad = {
        "name": "",
        "email": "not-an-email",
        "text": "   ",
        "url": "javascript:alert(1)",
        "ip": "999.1.1.1",
        "elapsed_ms": "soon",
        "surprise": 1,
    }
    response = client.post("/v1/comments", json=bad, headers=auth(keys["client"]))
    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert set(response.json["errors"]) == {"name", "email", "text", "url", "ip", "elapsed_ms", "surprise"}


def test_missing_required_fields_are_named(client, keys):
    response = client.post("/v1/comments", json={}, headers=auth(keys["client"]))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "email", "text"}


def test_name_with_control_characters_is_refused(submit):
    response = submit(name="Ann\u202eevil")
    assert response.status_code == 422 and "name" in response.json["errors"]


def test_text_limit_is_configurable(app_config):
    from moderation.app import create_app

    app_config["max_text_length"] = 20
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "c")[1]
    client = app.test_client()
    assert client.post("/v1/comments", json=comment(text="x" * 21), headers=auth(key)).status_code == 422
    assert client.post("/v1/comments", json=comment(text="x" * 20), headers=auth(key)).status_code == 201


def test_empty_optional_url_from_wordpress_is_accepted(submit):
    assert submit(url="").status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"name": "\xff\xfe"}', "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (b"name=a&email=b", "application/x-www-form-urlencoded", 415),
        (b"hello", "text/plain", 415),
        (b'{"text": "' + b"a" * 200_000 + b'"}', "application/json", 413),
    ],
)
def test_malformed_bodies_get_clear_4xx(client, keys, data, content_type, status):
    response = client.post(
        "/v1/comments", data=data, headers={**auth(keys["client"]), "Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.json["code"] == status and response.json["message"]


def test_unknown_comment_is_404_and_other_clients_comment_is_hidden(submit, client, app):
    own = submit().json["id"]
    other = app.extensions["moderation"].store.create_key("client", "other")[1]
    assert client.get("/v1/comments/nope", headers=auth(other)).status_code == 404
    assert client.get(f"/v1/comments/{own}", headers=auth(other)).status_code == 404


def test_unknown_route_is_json_404(client):
    response = client.get("/v2/whatever")
    assert response.status_code == 404 and response.json["error"] == "not_found"


# --- auth -------------------------------------------------------------------------------------


def test_missing_and_unknown_keys_are_401(client):
    assert client.post("/v1/comments", json=comment()).status_code == 401
    wrong = client.post("/v1/comments", json=comment(), headers=auth("mk_abc_def"))
    assert wrong.status_code == 401 and wrong.json["error"] == "unauthorized"
    assert client.get("/v1/model", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_roles(client, keys, submit):
    assert client.post("/v1/comments", json=comment(), headers=auth(keys["moderator"])).status_code == 403
    assert client.post("/v1/comments", json=comment(), headers=auth(keys["admin"])).status_code == 201
    comment_id = submit().json["id"]
    assert client.get(f"/v1/comments/{comment_id}", headers=auth(keys["moderator"])).status_code == 200
    feedback = client.post(
        f"/v1/comments/{comment_id}/feedback", json={"label": "spam"}, headers=auth(keys["moderator"])
    )
    assert feedback.status_code == 403
    for role in ("client", "moderator", "admin"):
        assert client.get("/v1/model", headers=auth(keys[role])).status_code == 200


def test_revoked_key_is_refused(app, client, keys):
    store = app.extensions["moderation"].store
    prefix = keys["client"].split("_")[1]
    assert store.revoke_key(prefix)
    assert client.post("/v1/comments", json=comment(), headers=auth(keys["client"])).status_code == 401


def test_keys_are_stored_hashed(app, keys):
    stored = app.extensions["moderation"].store.list_keys()
    secrets = [k.split("_", 2)[2] for k in keys.values()]
    assert all(s not in k.key_hash for k in stored for s in secrets)


# --- feedback and model -----------------------------------------------------------------------


def test_feedback_becomes_a_training_label(submit, client, keys, app):
    comment_id = submit(text=CLEAN).json["id"]
    response = client.post(
        f"/v1/comments/{comment_id}/feedback", json={"label": "spam"}, headers=auth(keys["client"])
    )
    assert response.status_code == 201 and response.json["label"] == "spam"
    client.post(f"/v1/comments/{comment_id}/feedback", json={"label": "ham"}, headers=auth(keys["client"]))
    labels = list(app.extensions["moderation"].store.training_labels())
    assert [(r["text"], r["label"], r["source"], r["trust"], r["linked"]) for r in labels] == [
        (CLEAN, "ham", "cms_feedback", "trusted", True)
    ]
    bad = client.post(
        f"/v1/comments/{comment_id}/feedback", json={"label": "meh"}, headers=auth(keys["client"])
    )
    assert bad.status_code == 422 and "label" in bad.json["errors"]


def test_model_endpoint_describes_current_model(client, keys, app):
    body = client.get("/v1/model", headers=auth(keys["admin"])).json
    assert body["version"] == app.extensions["moderation"].models.get().version
    assert body["thresholds"]["spam"] == {"hold": 0.5, "reject": 0.9}
    assert body["metrics"]["held_out"]["spam"]["roc_auc"] > 0.5
    assert body["data"] and all("path" in entry for entry in body["data"])


@pytest.mark.parametrize("role", ["client", "moderator"])
def test_model_endpoint_shows_clients_no_server_paths(client, keys, app, role):
    body = client.get("/v1/model", headers=auth(keys[role])).json
    assert set(body) == {"version", "created", "metrics"}
    assert body["version"] == app.extensions["moderation"].models.get().version
    assert body["metrics"]["held_out"]["spam"]["roc_auc"] > 0.5


def test_health_ready_metrics_and_openapi_need_no_key(client, submit):
    submit(text=CLEAN)
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"]["database"] == "ok"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'moderation_decisions_total{decision="approve",reason="clean"}' in metrics
    assert "moderation_decision_seconds_bucket" in metrics and "moderation_model_info" in metrics
    spec = client.get("/openapi.json").json
    assert "/v1/comments" in spec["paths"]
    schema = spec["components"]["schemas"]["CommentIn"]
    assert {"name", "email", "text"} <= set(schema["required"])


def test_post_title_and_url_are_stored_for_moderators(submit, app):
    body = submit(
        post_id="311", post_title="  Frigates, late again  ", post_url="https://news.example/frigates"
    ).json
    stored = app.extensions["moderation"].store.get_comment(body["id"])
    assert (stored.post_title, stored.post_url) == ("Frigates, late again", "https://news.example/frigates")
    # Empty values mean "not given", as WordPress sends them.
    blank = submit(post_title="", post_url="").json
    stored = app.extensions["moderation"].store.get_comment(blank["id"])
    assert (stored.post_title, stored.post_url) == (None, None)


@pytest.mark.parametrize(
    "field, value",
    [
        ("post_url", "javascript:alert(1)"),
        ("post_url", "data:text/html,<script>alert(1)</script>"),
        ("post_url", "ftp://news.example/frigates"),
        ("post_url", "https://news.example/" + "a" * 2048),
        ("post_title", "t" * 301),
        ("post_title", "Two\nlines"),
        ("post_title", 42),
    ],
)
def test_bad_post_context_is_a_422_naming_the_field(submit, field, value):
    response = submit(**{field: value})
    assert response.status_code == 422
    assert field in response.json["errors"]
