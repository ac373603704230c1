"""The moderators' API: queue, reviews, bulk, undo, audit, labels and block lists."""

import threading

import pytest

from moderation.app import create_app
from tests.conftest import auth, comment


@pytest.fixture
def held_app(app_config):
    """An app that holds every comment (spam hold threshold 0), so the queue fills up."""
    app_config.update({"spam_hold": 0.0, "flood_seconds": 0})
    return create_app(app_config)


@pytest.fixture
def actors(held_app):
    store = held_app.extensions["moderation"].store
    return {role: store.create_key(role, f"{role} desk")[1] for role in ("client", "moderator", "admin")}


def hold(app, key, n=1, **fields):
    client = app.test_client()
    ids = []
    for _ in range(n):
        response = client.post(
            "/v1/comments", json=comment(text="Fair summary of the vote.", **fields), headers=auth(key)
        )
        assert response.json["decision"] == "hold"
        ids.append(response.json["id"])
    return ids


def test_queue_lists_held_comments_oldest_first_with_everything_a_moderator_needs(held_app, actors):
    ids = hold(held_app, actors["client"], 3, ip="198.51.100.4", post_id=55, url="https://blog.example")
    response = held_app.test_client().get("/v1/queue", headers=auth(actors["moderator"]))
    assert response.status_code == 200
    body = response.json
    assert [item["id"] for item in body["items"]] == ids
    first = body["items"][0]
    assert first["text"] == "Fair summary of the vote." and first["email"].endswith("@example.org")
    assert first["url"] == "https://blog.example" and first["post_id"] == "55"
    assert first["reasons"][0]["code"] == "uncertain" and "detail" in first["reasons"][0]
    assert {"spam", "toxicity", "threat", "insult"} <= set(first["scores"])
    assert "terms" in first["evidence"]
    assert first["history"]["ip"] == {"held": 3}
    assert body["counts"] == {"held": 3, "by_reason": {"uncertain": 3}}
    assert body["next_cursor"] is None


def test_cursor_pagination_and_filters(held_app, actors):
    ids = hold(held_app, actors["client"], 3, post_id="a")
    other = hold(held_app, actors["client"], 1, post_id="b")
    client = held_app.test_client()
    headers = auth(actors["moderator"])
    seen, cursor = [], None
    while True:
        url = "/v1/queue?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids + other
    assert [i["id"] for i in client.get("/v1/queue?post_id=b", headers=headers).json["items"]] == other
    assert client.get("/v1/queue?reason=links", headers=headers).json["items"] == []
    assert client.get("/v1/queue?min_score=1.0", headers=headers).json["items"] == []
    assert client.get("/v1/queue?cursor=garbage", headers=headers).status_code == 400
    assert client.get("/v1/queue?limit=0", headers=headers).status_code == 422


def test_queue_needs_a_moderator(held_app, actors):
    client = held_app.test_client()
    assert client.get("/v1/queue", headers=auth(actors["client"])).status_code == 403
    assert client.get("/v1/queue").status_code == 401
    assert client.get("/v1/queue", headers=auth(actors["admin"])).status_code == 200


def test_review_changes_status_audits_labels_and_queues_an_event(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"], client_comment_id="wp-9")
    client = held_app.test_client()
    response = client.post(
        f"/v1/comments/{comment_id}/review",
        json={"action": "reject", "label": "spam", "note": "link farm"},
        headers=auth(actors["moderator"]),
    )
    assert response.status_code == 200
    assert response.json["status"] == "rejected" and response.json["decision"] == "hold"
    assert response.json["review"]["label"] == "spam"
    # The CMS sees the new status too, and the comment left the queue.
    state = client.get(f"/v1/comments/{comment_id}", headers=auth(actors["client"])).json
    assert state["status"] == "rejected"
    assert client.get("/v1/queue", headers=auth(actors["moderator"])).json["items"] == []
    audit = client.get(f"/v1/comments/{comment_id}/audit", headers=auth(actors["moderator"])).json["items"]
    assert [(a["action"], a["label"], a["note"], a["by"]) for a in audit] == [
        ("reject", "spam", "link farm", "moderator desk")
    ]
    ext = held_app.extensions["moderation"]
    assert [r["label"] for r in ext.store.training_labels()] == ["spam"]
    from sqlalchemy import select

    from moderation.store.tables import OutboxEvent

    with ext.store.sessions() as session:
        events = list(session.scalars(select(OutboxEvent)))
    assert len(events) == 1
    assert events[0].payload | {"reviewed_at": None} == {
        "event": "comment.status_changed", "sequence": 1, "comment_id": comment_id,
        "client_comment_id": "wp-9", "status": "rejected", "label": "spam", "reviewer_role": "moderator",
        "reviewed_at": None,
    }  # fmt: skip


def test_other_label_is_audited_but_not_training_data(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"])
    client = held_app.test_client()
    body = {"action": "reject", "label": "other", "note": "off topic"}
    assert (
        client.post(
            f"/v1/comments/{comment_id}/review", json=body, headers=auth(actors["moderator"])
        ).status_code
        == 200
    )
    assert list(held_app.extensions["moderation"].store.training_labels()) == []


def test_second_review_gets_409_and_unknown_comment_404(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"])
    client = held_app.test_client()
    headers = auth(actors["moderator"])
    ok = client.post(
        f"/v1/comments/{comment_id}/review", json={"action": "approve", "label": "ham"}, headers=headers
    )
    again = client.post(
        f"/v1/comments/{comment_id}/review", json={"action": "reject", "label": "spam"}, headers=headers
    )
    assert ok.status_code == 200 and again.status_code == 409
    missing = client.post(
        "/v1/comments/nope/review", json={"action": "approve", "label": "ham"}, headers=headers
    )
    assert missing.status_code == 404
    bad = client.post(
        f"/v1/comments/{comment_id}/review", json={"action": "delete", "label": "x"}, headers=headers
    )
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"action", "label"}


def test_two_moderators_at_once_exactly_one_wins(held_app, actors):
    store = held_app.extensions["moderation"].store
    keys = [store.create_key("moderator", f"m{i}")[1] for i in range(6)]
    (comment_id,) = hold(held_app, actors["client"])
    barrier = threading.Barrier(len(keys))
    statuses = []

    def review(key):
        client = held_app.test_client()
        barrier.wait()
        response = client.post(
            f"/v1/comments/{comment_id}/review", json={"action": "approve", "label": "ham"}, headers=auth(key)
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=review, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * (len(keys) - 1)
    audit = held_app.extensions["moderation"].queue.audit(comment_id)
    assert len(audit) == 1


def test_bulk_review_reports_each_item(held_app, actors):
    first, second = hold(held_app, actors["client"], 2)
    client = held_app.test_client()
    headers = auth(actors["moderator"])
    client.post(f"/v1/comments/{second}/review", json={"action": "approve", "label": "ham"}, headers=headers)
    response = client.post(
        "/v1/reviews",
        json={"items": [
            {"id": first, "action": "reject", "label": "toxic"},
            {"id": second, "action": "reject", "label": "spam"},
            {"id": "missing", "action": "approve", "label": "ham"},
        ]},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200
    results = response.json["results"]
    assert [(r["id"], r["status"]) for r in results] == [(first, 200), (second, 409), ("missing", 404)]
    assert results[0]["comment"]["status"] == "rejected" and results[1]["comment"] is None


def test_undo_puts_the_comment_back_only_for_its_reviewer(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"])
    client = held_app.test_client()
    other = held_app.extensions["moderation"].store.create_key("moderator", "other desk")[1]
    client.post(f"/v1/comments/{comment_id}/review", json={"action": "reject", "label": "spam"},
                headers=auth(actors["moderator"]))  # fmt: skip
    assert client.post(f"/v1/comments/{comment_id}/review/undo", headers=auth(other)).status_code == 409
    undone = client.post(f"/v1/comments/{comment_id}/review/undo", headers=auth(actors["moderator"]))
    assert undone.status_code == 200 and undone.json["status"] == "held"
    assert [i["id"] for i in client.get("/v1/queue", headers=auth(other)).json["items"]] == [comment_id]
    assert list(held_app.extensions["moderation"].store.training_labels()) == []
    actions = [a["action"] for a in held_app.extensions["moderation"].queue.audit(comment_id)]
    assert actions == ["reject", "undo"]
    # After an undo, anyone may review it again.
    again = client.post(f"/v1/comments/{comment_id}/review", json={"action": "approve", "label": "ham"},
                        headers=auth(other))  # fmt: skip
    assert again.status_code == 200


def test_block_lists_are_managed_by_admins_and_apply_at_once(held_app, actors):
    client = held_app.test_client()
    admin = auth(actors["admin"])
    assert client.get("/v1/blocklist", headers=auth(actors["moderator"])).status_code == 403
    added = client.post("/v1/blocklist", json={"kind": "blocked_term", "value": "Casino"}, headers=admin)
    assert added.status_code == 201
    assert (
        client.post(
            "/v1/blocklist", json={"kind": "blocked_term", "value": "Casino"}, headers=admin
        ).status_code
        == 409
    )
    client.post("/v1/blocklist", json={"kind": "blocked_author", "value": "@spam.example"}, headers=admin)
    client.post("/v1/blocklist", json={"kind": "watched_term", "value": "referendum"}, headers=admin)
    submit = lambda **f: client.post("/v1/comments", json=comment(**f), headers=auth(actors["client"])).json  # noqa: E731
    assert submit(text="Best c4sino bonus")["reason"]["code"] == "blocked_term"
    assert submit(email="x@spam.example")["reason"]["code"] == "blocked_author"
    assert submit(text="On the referendum question")["reasons"][0]["code"] == "watched_term"
    listing = client.get("/v1/blocklist", headers=admin).json
    assert {(e["kind"], e["value"]) for e in listing["items"]} == {
        ("blocked_term", "Casino"),
        ("blocked_author", "@spam.example"),
        ("watched_term", "referendum"),
    }
    entry = next(e for e in listing["items"] if e["kind"] == "blocked_term")
    assert client.delete(f"/v1/blocklist/{entry['id']}", headers=admin).status_code == 204
    assert client.delete(f"/v1/blocklist/{entry['id']}", headers=admin).status_code == 404
    assert submit(text="Best c4sino bonus")["reason"]["code"] != "blocked_term"
    bad = client.post("/v1/blocklist", json={"kind": "nope", "value": ""}, headers=admin)
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"kind", "value"}


def test_block_list_added_on_one_instance_applies_on_another(held_app, app_config, actors):
    other_instance = create_app(app_config)  # same database, separate process state
    held_app.test_client().post(
        "/v1/blocklist",
        json={"kind": "blocked_term", "value": "bitcoin doubler"},
        headers=auth(actors["admin"]),
    )
    other_instance.extensions["moderation"].service.blocklists.ttl = 0
    response = other_instance.test_client().post(
        "/v1/comments", json=comment(text="Try the bitcoin doubler today"), headers=auth(actors["client"])
    )
    assert response.json["reason"]["code"] == "blocked_term"
