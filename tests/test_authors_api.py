"""The author API: the author view, notes, and ban / pre-moderate / suspend / lift, each audited."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from moderation.store.privacy import erase_email
from moderation.store.repository import utcnow
from moderation.store.tables import AuthorAction, AuthorNote, BlockEntry, OutboxEvent
from tests.helpers import auth, comment

EMAIL = "Writer@Example.org"
KEY = "writer@example.org"


@pytest.fixture
def desk(make_app):
    """An app where borderline comments are held (not rejected) and no flood window interferes."""
    app = make_app(flood_seconds=0, duplicate_seconds=0)
    store = app.extensions["moderation"].store
    keys = {role: store.create_key(role, f"{role} desk")[1] for role in ("client", "moderator", "admin")}
    return app, keys


def send(app, key, **fields):
    response = app.test_client().post("/v1/comments", json=comment(**fields), headers=auth(key))
    assert response.status_code == 201, response.json
    return response.json


def url(email=EMAIL, rest=""):
    return f"/v1/authors/{quote(email, safe='')}{rest}"


def test_only_moderators_reach_the_author_api(desk):
    app, keys = desk
    client = app.test_client()
    for method, path, body in (
        ("get", url(), None),
        ("post", url(rest="/notes"), {"text": "x"}),
        ("post", url(rest="/actions"), {"action": "premoderate", "reason": "x"}),
        ("post", url(rest="/actions/1/lift"), {"reason": "x"}),
    ):
        assert getattr(client, method)(path, json=body).status_code == 401
        assert getattr(client, method)(path, json=body, headers=auth(keys["client"])).status_code == 403
    assert client.get(url(), headers=auth(keys["moderator"])).status_code == 200
    assert client.get(url(), headers=auth(keys["admin"])).status_code == 200


def test_author_view_lists_comments_counts_ips_linked_emails_and_notes(desk):
    app, keys = desk
    first = send(app, keys["client"], email=EMAIL, name="Wri", ip="198.51.100.7", text="First words here.")
    send(app, keys["client"], email=KEY, name="Writer", ip="198.51.100.7", text="Second words here.")
    send(app, keys["client"], email=KEY, name="Writer", ip="203.0.113.9", text="Third words here.")
    send(app, keys["client"], email="sock@example.org", ip="198.51.100.7", text="A friend agrees.")
    send(app, keys["client"], email="stranger@example.org", ip="192.0.2.1", text="Unrelated.")
    client = app.test_client()
    headers = auth(keys["moderator"])
    note = client.post(
        url(rest="/notes"), json={"text": "Asked to <b>calm down</b> in May."}, headers=headers
    )
    assert note.status_code == 201 and note.json["by"] == "moderator desk"

    body = client.get(url() + "?limit=2", headers=headers).json
    assert body["email"] == KEY
    assert body["counts"]["total"] == 3 and sum(body["counts"]["by_status"].values()) == 3
    assert sum(body["counts"]["by_decision"].values()) == 3
    assert set(body["names"]) == {"Wri", "Writer"}
    assert {e["ip"]: e["comments"] for e in body["ips"]} == {"198.51.100.7": 2, "203.0.113.9": 1}
    assert body["other_emails"] == [{"email": "sock@example.org", "comments": 1}]
    assert [n["text"] for n in body["notes"]] == ["Asked to <b>calm down</b> in May."]
    assert len(body["comments"]) == 2 and body["next_cursor"]
    assert body["actions"] == [] and body["in_force"] == []
    rest = client.get(url() + f"?cursor={body['next_cursor']}", headers=headers).json
    assert [c["id"] for c in rest["comments"]] == [first["id"]] and rest["next_cursor"] is None
    assert client.get(url() + "?cursor=nonsense", headers=headers).status_code == 400
    assert client.get("/v1/authors/not-an-address", headers=headers).status_code == 404
    assert client.post(url(rest="/notes"), json={"text": ""}, headers=headers).status_code == 422


def test_an_address_with_a_slash_is_reachable(desk):
    app, keys = desk
    send(app, keys["client"], email="a/b@example.org")
    body = app.test_client().get(url("a/b@example.org"), headers=auth(keys["moderator"])).json
    assert body["email"] == "a/b@example.org" and body["counts"]["total"] == 1
    note = app.test_client().post(
        url("a/b@example.org", "/notes"), json={"text": "hi"}, headers=auth(keys["moderator"])
    )
    assert note.status_code == 201


def test_ban_blocks_email_and_ip_rejects_held_comments_with_webhooks_and_lift_undoes_it(desk, app_config):
    app, keys = desk
    held = send(app, keys["client"], email=KEY, ip="198.51.100.7", elapsed_ms=10)
    assert held["decision"] == "hold"
    client = app.test_client()
    headers = auth(keys["moderator"])
    banned = client.post(
        url(rest="/actions"),
        json={"action": "ban", "reason": "Spam ring", "ip": "198.51.100.7", "reject_pending": True},
        headers=headers,
    )
    assert banned.status_code == 201, banned.json
    record = banned.json
    assert record["action"] == "ban" and record["by"] == "moderator desk" and record["reason"] == "Spam ring"
    assert record["rejected"] == 1 and record["active"] and record["ip"] == "198.51.100.7"
    store = app.extensions["moderation"].store
    assert store.get_comment(held["id"]).status == "rejected"
    assert store.get_comment(held["id"]).review_reason == "spam"
    with store.engine.connect() as connection:
        events = connection.execute(select(OutboxEvent.payload)).scalars().all()
        blocked = set(connection.execute(select(BlockEntry.value)).scalars())
    assert [e["comment_id"] for e in events] == [held["id"]] and events[0]["status"] == "rejected"
    assert blocked == {KEY, "198.51.100.7"}
    assert (
        client.get(f"/v1/comments/{held['id']}/audit", headers=headers).json["items"][0]["note"]
        == "Spam ring"
    )

    # A new comment with that e-mail (any case) or from that IP is rejected as a blocked author.
    again = send(app, keys["client"], email=EMAIL, text="I am back with a clean comment.")
    assert again["decision"] == "reject" and again["reason"]["code"] == "blocked_author"
    by_ip = send(app, keys["client"], ip="198.51.100.7", text="Another clean comment.")
    assert by_ip["reason"]["code"] == "blocked_author"
    assert (
        client.post(
            url(rest="/actions"), json={"action": "ban", "reason": "again"}, headers=headers
        ).status_code
        == 409
    )

    lifted = client.post(
        url(rest=f"/actions/{record['id']}/lift"),
        json={"reason": "Appeal accepted"},
        headers=auth(keys["admin"]),
    )
    assert lifted.status_code == 200
    assert lifted.json["lifted_by"] == "admin desk" and lifted.json["lift_reason"] == "Appeal accepted"
    assert lifted.json["active"] is False
    with store.engine.connect() as connection:
        assert connection.execute(select(BlockEntry.value)).scalars().all() == []
    assert send(app, keys["client"], email=KEY, text="Glad to be back, thanks.")["decision"] == "approve"
    view = client.get(url(), headers=headers).json
    assert view["in_force"] == [] and view["actions"][0]["lift_reason"] == "Appeal accepted"
    assert (
        client.post(
            url(rest=f"/actions/{record['id']}/lift"), json={"reason": "x"}, headers=headers
        ).status_code
        == 404
    )


def test_ban_keeps_an_admins_own_block_entry_when_lifted(desk):
    app, keys = desk
    client = app.test_client()
    added = client.post(
        "/v1/blocklist", json={"kind": "blocked_author", "value": KEY}, headers=auth(keys["admin"])
    )
    assert added.status_code == 201, added.json
    ban = client.post(
        url(rest="/actions"), json={"action": "ban", "reason": "r"}, headers=auth(keys["moderator"])
    )
    client.post(
        url(rest=f"/actions/{ban.json['id']}/lift"), json={"reason": "r"}, headers=auth(keys["moderator"])
    )
    with app.extensions["moderation"].store.engine.connect() as connection:
        assert connection.execute(select(BlockEntry.value)).scalars().all() == [KEY]


def test_premoderation_holds_a_clean_comment_with_its_own_reason_until_lifted(desk):
    app, keys = desk
    assert send(app, keys["client"], email=KEY)["decision"] == "approve"
    client = app.test_client()
    headers = auth(keys["moderator"])
    action = client.post(
        url(rest="/actions"),
        json={"action": "premoderate", "reason": "Watch after warnings"},
        headers=headers,
    )
    assert action.status_code == 201 and action.json["action"] == "premoderate"
    held = send(app, keys["client"], email=EMAIL, text="Thanks, that is a fair point about the budget.")
    assert held["decision"] == "hold" and held["reason"]["code"] == "premoderated_author"
    assert client.get(url(), headers=headers).json["in_force"] == ["premoderate"]
    client.post(url(rest=f"/actions/{action.json['id']}/lift"), json={"reason": "Behaving"}, headers=headers)
    assert send(app, keys["client"], email=KEY, text="And another fair point.")["decision"] == "approve"


def test_suspension_rejects_until_it_ends(desk):
    app, keys = desk
    client = app.test_client()
    headers = auth(keys["moderator"])
    assert (
        client.post(
            url(rest="/actions"), json={"action": "suspend", "reason": "x"}, headers=headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            url(rest="/actions"), json={"action": "suspend", "reason": "x", "days": 400}, headers=headers
        ).status_code
        == 422
    )
    suspended = client.post(
        url(rest="/actions"), json={"action": "suspend", "reason": "Cool off", "days": 3}, headers=headers
    )
    assert suspended.status_code == 201 and suspended.json["until"]
    refused = send(app, keys["client"], email=KEY, text="A perfectly polite remark.")
    assert refused["decision"] == "reject" and refused["reason"]["code"] == "suspended_author"
    # Once the end has passed the suspension is no longer in force.
    store = app.extensions["moderation"].store
    with store.engine.begin() as connection:
        connection.execute(update(AuthorAction).values(until=utcnow() - timedelta(seconds=1)))
    assert send(app, keys["client"], email=KEY, text="Back after the break.")["decision"] == "approve"
    assert client.get(url(), headers=headers).json["in_force"] == []
    ended = client.post(
        url(rest=f"/actions/{suspended.json['id']}/lift"), json={"reason": "x"}, headers=headers
    )
    assert ended.status_code == 404


def test_action_validation(desk):
    app, keys = desk
    client = app.test_client()
    headers = auth(keys["moderator"])
    cases = [
        {"action": "ban"},
        {"action": "ban", "reason": "   "},
        {"action": "ban", "reason": "x", "ip": "not-an-ip"},
        {"action": "premoderate", "reason": "x", "ip": "192.0.2.1"},
        {"action": "premoderate", "reason": "x", "days": 2},
        {"action": "mute", "reason": "x"},
    ]
    for body in cases:
        assert client.post(url(rest="/actions"), json=body, headers=headers).status_code == 422, body
    assert client.post(url(rest="/actions/1/lift"), json={"reason": "x"}, headers=headers).status_code == 404


def test_erase_removes_notes_and_actions_about_the_email(desk):
    app, keys = desk
    client = app.test_client()
    headers = auth(keys["moderator"])
    send(app, keys["client"], email=KEY)
    client.post(url(rest="/notes"), json={"text": "note"}, headers=headers)
    client.post(url(rest="/actions"), json={"action": "premoderate", "reason": "r"}, headers=headers)
    client.post(url("other@example.org", "/notes"), json={"text": "kept"}, headers=headers)
    counts = erase_email(app.extensions["moderation"].store, EMAIL)
    assert counts["author_notes"] == 1 and counts["author_actions"] == 1
    with app.extensions["moderation"].store.engine.connect() as connection:
        assert connection.execute(select(AuthorNote.email_key)).scalars().all() == ["other@example.org"]
        assert connection.execute(select(AuthorAction.id)).scalars().all() == []
