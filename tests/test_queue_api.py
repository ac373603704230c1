"""The moderators' API: queue, reviews, bulk, undo, audit, labels and block lists."""

import threading

import pytest

from moderation.app import create_app
from tests.helpers import auth, comment


@pytest.fixture
def held_app(make_app):
    """An app that holds every comment (spam hold threshold 0), so the queue fills up."""
    return make_app(spam_hold=0.0, flood_seconds=0)


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
    assert body["counts"] == {"held": 3, "total": 3, "by_reason": {"uncertain": 3}}
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
        "reviewed_at": None, "previous_status": "held",
        "reason": {"code": "spam", "message": "Your comment was removed as spam."},
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


# --- decisions changed at any time, reasons, views and readers' reports (issue 13) -------------


def outbox_payloads(app) -> list[dict]:
    from sqlalchemy import select

    from moderation.store.tables import OutboxEvent

    with app.extensions["moderation"].store.sessions() as session:
        return [e.payload for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]


def age_decisions(app, comment_id: str, hours: float = 1) -> None:
    """Move a comment's creation and every decision on it into the past, as if hours had gone by."""
    from datetime import timedelta

    from sqlalchemy import update

    from moderation.store.repository import utcnow
    from moderation.store.tables import Comment, Label, Review

    then = utcnow() - timedelta(hours=hours)
    with app.extensions["moderation"].store.engine.begin() as connection:
        connection.execute(update(Comment).where(Comment.id == comment_id).values(created_at=then))
        connection.execute(
            update(Comment)
            .where(Comment.id == comment_id, Comment.reviewed_at.is_not(None))
            .values(reviewed_at=then)
        )
        connection.execute(update(Review).where(Review.comment_id == comment_id).values(created_at=then))
        connection.execute(update(Label).where(Label.comment_id == comment_id).values(created_at=then))


def test_a_rejection_is_changed_an_hour_later_audited_and_sent_to_the_cms(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"], client_comment_id="wp-77")
    client = held_app.test_client()
    other = held_app.extensions["moderation"].store.create_key("moderator", "day desk")[1]
    first = client.post(f"/v1/comments/{comment_id}/review", json={"action": "reject", "label": "spam"},
                        headers=auth(actors["moderator"]))  # fmt: skip
    assert first.status_code == 200
    age_decisions(held_app, comment_id, hours=1)
    url = f"/v1/comments/{comment_id}/review"
    # A first-review call cannot overwrite a decision by accident ...
    blind = client.post(url, json={"action": "approve"}, headers=auth(other))
    assert blind.status_code == 409 and "expected_status" in blind.json["message"]
    # ... and one that saw an out-of-date status cannot either.
    stale = client.post(url, json={"action": "approve", "expected_status": "approved"}, headers=auth(other))
    assert stale.status_code == 409
    changed = client.post(
        url, json={"action": "approve", "expected_status": "rejected", "note": "satire, not spam"},
        headers=auth(other),
    )  # fmt: skip
    assert changed.status_code == 200
    assert changed.json["status"] == "approved" and changed.json["review"]["label"] == "ham"
    assert changed.json["review"]["reason"] is None
    audit = client.get(f"/v1/comments/{comment_id}/audit", headers=auth(actors["moderator"])).json["items"]
    assert [
        (a["action"], a["from_status"], a["to_status"], a["reason"], a["note"], a["by"]) for a in audit
    ] == [
        ("reject", "held", "rejected", "spam", None, "moderator desk"),
        ("approve", "rejected", "approved", None, "satire, not spam", "day desk"),
    ]
    assert audit[1]["at"] > audit[0]["at"]
    events = outbox_payloads(held_app)
    assert [(e["sequence"], e["previous_status"], e["status"], e["label"]) for e in events] == [
        (1, "held", "rejected", "spam"),
        (2, "rejected", "approved", "ham"),
    ]
    assert events[0]["reason"] == {"code": "spam", "message": "Your comment was removed as spam."}
    assert events[1]["reason"] is None and events[1]["client_comment_id"] == "wp-77"
    assert "note" not in events[1] and "satire" not in str(events[1])
    assert [r["label"] for r in held_app.extensions["moderation"].store.training_labels()] == ["ham"]
    # The changer can take the change back: the comment is rejected by the first moderator again.
    undone = client.post(f"/v1/comments/{comment_id}/review/undo", headers=auth(other))
    assert undone.status_code == 200 and undone.json["status"] == "rejected"
    assert undone.json["review"]["label"] == "spam" and undone.json["review"]["reason"]["code"] == "spam"
    last = outbox_payloads(held_app)[-1]
    assert (last["sequence"], last["previous_status"], last["status"], last["reason"]["code"]) == (
        3, "approved", "rejected", "spam",
    )  # fmt: skip
    assert [r["label"] for r in held_app.extensions["moderation"].store.training_labels()] == ["spam"]
    # The first moderator's hour-old decision is past its undo window.
    late = client.post(f"/v1/comments/{comment_id}/review/undo", headers=auth(actors["moderator"]))
    assert late.status_code == 409


def test_a_comment_the_service_approved_is_unmoderated_until_rejected_with_a_reason(app, keys, submit):
    comment_id = submit(client_comment_id="wp-5").json["id"]
    client = app.test_client()
    moderator = auth(keys["moderator"])
    assert client.get(f"/v1/comments/{comment_id}", headers=moderator).json["status"] == "approved"
    unmoderated = client.get("/v1/queue?view=unmoderated", headers=moderator).json
    assert [i["id"] for i in unmoderated["items"]] == [comment_id]
    assert unmoderated["items"][0]["reviewed_at"] is None and unmoderated["views"]["unmoderated"] == 1
    body = {
        "action": "reject",
        "reason": "personal_info",
        "note": "home address",
        "expected_status": "approved",
    }
    response = client.post(f"/v1/comments/{comment_id}/review", json=body, headers=moderator)
    assert response.status_code == 200 and response.json["status"] == "rejected"
    public = {
        "code": "personal_info",
        "message": "Your comment was removed because it shares personal information.",
    }
    # The CMS reads the commenter-facing reason on the comment and in the webhook; never the note.
    state = client.get(f"/v1/comments/{comment_id}", headers=auth(keys["client"])).json
    assert state["review"]["reason"] == public and state["review"]["label"] == "other"
    (event,) = outbox_payloads(app)
    assert event["reason"] == public and event["previous_status"] == "approved"
    assert "home address" not in str(event)
    views = client.get("/v1/queue?view=rejected", headers=moderator).json
    assert views["views"]["unmoderated"] == 0 and views["views"]["rejected"] == 1
    (item,) = views["items"]
    assert (item["review_reason"], item["review_note"], item["reviewed_by"]) == (
        "personal_info", "home address", "test moderator",
    )  # fmt: skip
    assert list(app.extensions["moderation"].store.training_labels()) == []  # "other" trains nothing


def test_reject_reasons_and_change_fields_are_checked(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"])
    client = held_app.test_client()
    url, headers = f"/v1/comments/{comment_id}/review", auth(actors["moderator"])
    assert client.post(url, json={"action": "approve", "reason": "spam"}, headers=headers).status_code == 422
    other = client.post(url, json={"action": "reject", "reason": "other"}, headers=headers)
    assert other.status_code == 422 and set(other.json["errors"]) == {"note"}
    wrong = client.post(
        url, json={"action": "reject", "reason": "rude", "expected_status": "gone"}, headers=headers
    )
    assert wrong.status_code == 422 and set(wrong.json["errors"]) == {"reason", "expected_status"}
    assert client.post(url, json={"action": "reject"}, headers=headers).json["review"]["label"] == "other"
    off = client.post(
        url, json={"action": "reject", "reason": "off_topic", "expected_status": "rejected"}, headers=headers
    )
    assert off.status_code == 200 and off.json["review"]["reason"]["code"] == "off_topic"
    bulk = client.post("/v1/reviews", json={"items": [
        {"id": comment_id, "action": "approve", "expected_status": "rejected"},
        {"id": comment_id, "action": "reject", "reason": "toxic", "expected_status": "rejected"},
    ]}, headers=headers)  # fmt: skip
    assert [r["status"] for r in bulk.json["results"]] == [200, 409]


def test_two_moderators_changing_one_decision_at_once_exactly_one_wins(held_app, actors):
    store = held_app.extensions["moderation"].store
    keys = [store.create_key("moderator", f"m{i}")[1] for i in range(4)]
    (comment_id,) = hold(held_app, actors["client"])
    held_app.test_client().post(
        f"/v1/comments/{comment_id}/review", json={"action": "reject"}, headers=auth(actors["moderator"])
    )
    barrier = threading.Barrier(len(keys))
    statuses = []

    def change(key):
        client = held_app.test_client()
        barrier.wait()
        body = {"action": "approve", "expected_status": "rejected"}
        response = client.post(f"/v1/comments/{comment_id}/review", json=body, headers=auth(key))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=change, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * (len(keys) - 1)
    assert [a["action"] for a in held_app.extensions["moderation"].queue.audit(comment_id)] == [
        "reject",
        "approve",
    ]


def report(client, key, comment_id, **body):
    return client.post(f"/v1/comments/{comment_id}/reports", json=body, headers=auth(key))


def test_reports_count_once_per_reader_and_only_the_owning_site_may_send_them(held_app, actors):
    (comment_id,) = hold(held_app, actors["client"])
    store = held_app.extensions["moderation"].store
    other_site = store.create_key("client", "other site")[1]
    client = held_app.test_client()
    first = report(client, actors["client"], comment_id, reason="spam", text="selling pills", reporter="r-1")
    assert first.status_code == 201
    assert (first.json["reason"], first.json["text"], first.json["open_reports"]) == (
        "spam",
        "selling pills",
        1,
    )
    again = report(client, actors["client"], comment_id, reason="abusive", reporter="r-1")
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert again.json["reason"] == "spam" and again.json["open_reports"] == 1
    assert report(client, actors["client"], comment_id, reason="abusive", reporter=42).status_code == 201
    # Another site's key cannot report (or learn of) this site's comment; nor can a moderator key.
    foreign = report(client, other_site, comment_id, reason="spam", reporter="r-9")
    assert foreign.status_code == 404
    assert report(client, actors["moderator"], comment_id, reason="spam", reporter="r-9").status_code == 403
    assert report(client, actors["client"], "nope", reason="spam", reporter="r-9").status_code == 404
    bad = report(client, actors["client"], comment_id, reason="boring", reporter=" ", colour="red")
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"reason", "reporter", "colour"}
    assert report(client, actors["client"], comment_id, reason="other", reporter="x" * 201).status_code == 422
    queue = client.get("/v1/queue?view=reported", headers=auth(actors["moderator"])).json
    (item,) = queue["items"]
    assert item["id"] == comment_id and queue["views"]["reported"] == 1
    assert item["reports"]["open"] == 2 and item["reports"]["by_reason"] == {"spam": 1, "abusive": 1}
    assert [(r["reason"], r["text"]) for r in item["reports"]["recent"]] == [
        ("abusive", None),
        ("spam", "selling pills"),
    ]
    assert "reporter" not in str(item["reports"])


def test_a_decision_resolves_the_reports_and_its_undo_reopens_them(app, keys, submit):
    comment_id = submit().json["id"]
    client = app.test_client()
    moderator = auth(keys["moderator"])
    report(client, keys["client"], comment_id, reason="misinformation", reporter="r-1")
    assert client.get("/v1/queue?view=reported", headers=moderator).json["views"]["reported"] == 1
    # Keeping it published (a first decision on an approved comment no one had seen) resolves them.
    kept = client.post(f"/v1/comments/{comment_id}/review", json={"action": "approve", "note": "sourced"},
                       headers=moderator)  # fmt: skip
    assert kept.status_code == 200
    after = client.get("/v1/queue?view=reported", headers=moderator).json
    assert after["items"] == [] and after["views"]["reported"] == 0
    assert after["views"]["unmoderated"] == 0 and after["views"]["approved"] == 1
    repeat = report(client, keys["client"], comment_id, reason="spam", reporter="r-1")
    assert repeat.status_code == 200 and repeat.json["resolved_at"] and repeat.json["open_reports"] == 0
    assert client.post(f"/v1/comments/{comment_id}/review/undo", headers=moderator).status_code == 200
    reopened = client.get("/v1/queue?view=reported", headers=moderator).json
    assert [i["id"] for i in reopened["items"]] == [comment_id] and reopened["items"][0]["reports"][
        "open"
    ] == 1
    assert reopened["views"]["unmoderated"] == 1


def test_view_counts_stay_true_under_post_score_and_reason_filters(held_app, actors):
    from sqlalchemy import update

    from moderation.store.tables import Comment

    a_ids = hold(held_app, actors["client"], 3, post_id="a")
    (b_id,) = hold(held_app, actors["client"], 1, post_id="b")
    client = held_app.test_client()
    headers = auth(actors["moderator"])
    client.post(f"/v1/comments/{a_ids[0]}/review", json={"action": "approve"}, headers=headers)
    client.post(
        f"/v1/comments/{a_ids[1]}/review", json={"action": "reject", "reason": "off_topic"}, headers=headers
    )
    report(client, actors["client"], a_ids[0], reason="spam", reporter="r")
    store = held_app.extensions["moderation"].store
    with store.engine.begin() as connection:
        connection.execute(update(Comment).values(spam_score=0.2, toxicity_score=0.1))
        connection.execute(update(Comment).where(Comment.id.in_([a_ids[2], b_id])).values(spam_score=0.8))

    def views(query=""):
        body = client.get(f"/v1/queue?{query}", headers=headers).json
        return body["views"], body["counts"], [i["id"] for i in body["items"]]

    everything, counts, items = views()
    assert everything == {
        "pending": 2,
        "reported": 1,
        "unmoderated": 0,
        "approved": 1,
        "rejected": 1,
        "all": 4,
    }
    assert counts == {"held": 2, "total": 2, "by_reason": {"uncertain": 2}} and items == [a_ids[2], b_id]
    on_a, counts, items = views("post_id=a")
    assert on_a == {"pending": 1, "reported": 1, "unmoderated": 0, "approved": 1, "rejected": 1, "all": 3}
    assert counts["held"] == 1 and items == [a_ids[2]]
    high, counts, _ = views("min_score=0.5&view=all")
    assert high == {"pending": 2, "reported": 0, "unmoderated": 0, "approved": 0, "rejected": 0, "all": 2}
    assert counts == {"held": 2, "total": 2, "by_reason": {"uncertain": 2}}
    a_high, counts, items = views("post_id=a&min_score=0.5&view=rejected")
    assert a_high["pending"] == 1 and a_high["rejected"] == 0 and items == [] and counts["held"] == 1
    nothing, counts, _ = views("reason=links&view=all")
    assert set(nothing.values()) == {0} and counts["by_reason"] == {"uncertain": 4}
    # The views other than pending and reported list the newest first, and page the same way.
    _, _, newest = views("view=all")
    assert newest == [b_id, *reversed(a_ids)]
    page = client.get("/v1/queue?view=all&limit=3", headers=headers).json
    rest = client.get(f"/v1/queue?view=all&limit=3&cursor={page['next_cursor']}", headers=headers).json
    assert [i["id"] for i in page["items"] + rest["items"]] == newest and rest["next_cursor"] is None
    assert client.get("/v1/queue?view=spam", headers=headers).status_code == 422


def test_search_filters_text_name_email_ip_and_post(held_app, actors):
    client = held_app.test_client()
    key = actors["client"]

    def send(**fields):
        response = client.post("/v1/comments", json=comment(**fields), headers=auth(key))
        assert response.json["decision"] == "hold"
        return response.json["id"]

    budget = send(text="The BUDGET vote was close.", name="Ann Lee", email="ann@Example.org",
                  ip="198.51.100.4", post_id="p1")  # fmt: skip
    ferry = send(
        text="Ferry times changed again.", name="Bo", email="bo@example.net", ip="198.51.100.5", post_id="p2"
    )
    percent = send(text="Up 100% on last year_s figure.", name="Cy", email="cy@example.org", post_id="p1")
    headers = auth(actors["moderator"])

    def ids(query):
        response = client.get(f"/v1/queue?{query}", headers=headers)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids("q=budget") == [budget]
    assert ids("q=vote+budget") == [budget] and ids("q=budget+ferry") == []
    assert ids("q=100%25") == [percent] and ids("q=%25") == [percent]  # % is literal, not a wildcard
    assert ids("q=r_s") == [percent] and ids("q=_") == [percent]
    assert ids("name=ann") == [budget] and ids("name=LEE") == [budget]
    assert ids("email=EXAMPLE.ORG") == [budget, percent] and ids("email=bo@example.net") == [ferry]
    assert ids("ip=198.51.100.5") == [ferry] and ids("ip=198.51.100") == []
    assert ids("post_id=p1&email=cy") == [percent]
    body = client.get("/v1/queue?q=ferry", headers=headers).json
    assert body["views"]["pending"] == 1 and body["counts"]["held"] == 1
    assert client.get("/v1/queue?q=", headers=headers).status_code == 422
    assert client.get("/v1/queue?q=budget", headers=auth(key)).status_code == 403


def test_posts_count_pending_and_reported_per_post_sortable(held_app, actors):
    client = held_app.test_client()
    key = actors["client"]
    a = hold(held_app, key, 3, post_id="a")
    b = hold(held_app, key, 1, post_id="b")
    hold(held_app, key, 1)  # no post: not listed
    moderator = auth(actors["moderator"])
    client.post(f"/v1/comments/{a[0]}/review", json={"action": "approve"}, headers=moderator)
    for reporter in ("r1", "r2"):
        report = client.post(
            f"/v1/comments/{b[0]}/reports", json={"reason": "spam", "reporter": reporter}, headers=auth(key)
        )
        assert report.status_code in (200, 201), report.json
    body = client.get("/v1/posts", headers=moderator).json
    assert [(p["post_id"], p["pending"], p["reported"], p["total"]) for p in body["items"]] == [
        ("a", 2, 0, 3), ("b", 1, 1, 1),
    ]  # fmt: skip
    by_reported = client.get("/v1/posts?sort=reported", headers=moderator).json["items"]
    assert [p["post_id"] for p in by_reported] == ["b", "a"]
    assert [p["post_id"] for p in client.get("/v1/posts?sort=latest", headers=moderator).json["items"]] == [
        "b",
        "a",
    ]
    assert client.get("/v1/posts?limit=1&offset=1", headers=moderator).json["items"][0]["post_id"] == "b"
    assert client.get("/v1/posts?sort=nope", headers=moderator).status_code == 422
    assert client.get("/v1/posts", headers=auth(key)).status_code == 403
    assert client.get("/v1/posts").status_code == 401


def test_post_thread_lists_replies_under_their_parents_with_status(held_app, actors):
    client = held_app.test_client()
    store = held_app.extensions["moderation"].store
    other_site = store.create_key("client", "other site")[1]

    def send(key, cms_id, parent=None, post="https://news.example/frigates", title="Frigates"):
        body = comment(text=f"Comment {cms_id} on the vote.", client_comment_id=cms_id, parent_id=parent,
                       post_id=post, post_title=title)  # fmt: skip
        response = client.post("/v1/comments", json=body, headers=auth(key))
        assert response.status_code == 201, response.json
        return response.json["id"]

    root = send(actors["client"], "c1")
    second = send(actors["client"], "c2")
    reply = send(actors["client"], "c3", parent="c1")
    nested = send(actors["client"], "c4", parent="c3")
    orphan = send(actors["client"], "c5", parent="gone")
    # Another site's comment with the same CMS parent id answers ITS c1 (not stored): no cross-site link.
    foreign = send(other_site, "x1", parent="c1", title="Frigates, updated")
    send(actors["client"], "elsewhere", post="another-post")
    moderator = auth(actors["moderator"])
    client.post(f"/v1/comments/{reply}/review", json={"action": "approve"}, headers=moderator)

    response = client.get("/v1/posts/https://news.example/frigates/comments", headers=moderator)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["post_id"], body["post_title"], body["truncated"]) == (
        "https://news.example/frigates", "Frigates, updated", False
    )  # fmt: skip
    order = [(item["id"], item["depth"], item["reply_to"]) for item in body["items"]]
    assert order == [
        (root, 0, None), (reply, 1, root), (nested, 2, reply), (second, 0, None), (orphan, 0, None),
        (foreign, 0, None),
    ]  # fmt: skip
    statuses = {item["id"]: item["status"] for item in body["items"]}
    assert statuses[reply] == "approved" and statuses[root] == "held"
    assert "email" not in body["items"][0] and "ip" not in body["items"][0]

    limited = client.get("/v1/posts/https://news.example/frigates/comments?limit=2", headers=moderator).json
    assert limited["truncated"] is True and [i["id"] for i in limited["items"]] == [root, second]
    empty = client.get("/v1/posts/no-such-post/comments", headers=moderator).json
    assert empty["items"] == [] and empty["post_title"] is None


def test_post_thread_needs_a_moderator(held_app, actors):
    client = held_app.test_client()
    hold(held_app, actors["client"], post_id="311")
    assert client.get("/v1/posts/311/comments", headers=auth(actors["client"])).status_code == 403
    assert client.get("/v1/posts/311/comments").status_code == 401
    assert client.get("/v1/posts/311/comments", headers=auth(actors["admin"])).status_code == 200


def test_a_loop_of_parent_ids_still_lists_every_comment_once():
    from moderation.services.context import thread_order

    def row(n, parent):
        return {"id": f"id{n}", "client_key_id": 1, "client_comment_id": f"c{n}", "parent_id": parent}

    rows = [row(1, "c2"), row(2, "c1"), row(3, "c3"), row(4, None)]
    ordered = thread_order(rows)
    assert sorted(r["id"] for r in ordered) == ["id1", "id2", "id3", "id4"]
    assert [(r["id"], r["depth"]) for r in ordered] == [("id3", 0), ("id4", 0), ("id1", 0), ("id2", 1)]
