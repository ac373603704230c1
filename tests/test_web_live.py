"""Live updates on the review page: the JSON the open page polls (/moderate/updates)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from moderation.store.repository import utcnow
from moderation.store.tables import Comment
from tests.helpers import auth

UPDATES = re.compile(r'<div id="live"[^>]* data-updates="([^"]+)" data-poll-seconds="([^"]+)"')


@pytest.fixture
def app_config(app_config, database_url):
    # Every test on SQLite and on PostgreSQL: the updates queries are new SQL.
    app_config.update(spam_reject=1.0, toxicity_reject=1.0, watched_terms="alert", database_url=database_url)
    return app_config


@pytest.fixture
def app(app):
    yield app
    # Close the pool's connections here, not in the garbage collector (PostgreSQL warns then).
    app.extensions["moderation"].store.engine.dispose()


def held(submit, **fields) -> str:
    response = submit(elapsed_ms=100, **fields)
    assert response.json["decision"] == "hold", response.json
    return response.json["id"]


def updates_url(client, path: str = "/moderate/") -> str:
    """The updates URL the page hands its script (with the page's filters and time)."""
    match = UPDATES.search(client.get(path).get_data(as_text=True))
    assert match, "the queue page carries its updates URL"
    return html.unescape(match.group(1))


def age(app, comment_id: str, hours: int) -> None:
    with app.extensions["moderation"].store.engine.begin() as connection:
        connection.execute(
            update(Comment)
            .where(Comment.id == comment_id)
            .values(created_at=utcnow() - timedelta(hours=hours))
        )


def test_signed_out_gets_401_json_not_the_sign_in_page(client):
    response = client.get("/moderate/updates?since=0")
    assert response.status_code == 401
    assert response.json["error"] == "signed_out"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_bearer_key_is_not_a_session(client, keys):
    response = client.get("/moderate/updates?since=0", headers=auth(keys["moderator"]))
    assert response.status_code == 401


def test_page_hands_its_script_the_updates_url_and_interval_and_has_no_inline_script(moderator):
    page = moderator.get("/moderate/?post_id=311").get_data(as_text=True)
    url = updates_url(moderator, "/moderate/?post_id=311")
    assert url.startswith("/moderate/updates?") and "post_id=311" in url and "since=" in url
    assert UPDATES.search(page).group(2) == "5.0"
    assert re.findall(r"<script[^>]*>", page) == [re.search(r'<script src="[^"]+" defer>', page).group(0)]


def test_counts_follow_the_view_and_the_filters(moderator, submit):
    held(submit, post_id="311")
    held(submit, post_id="311")
    held(submit, post_id="999")
    body = moderator.get(updates_url(moderator)).json
    assert body["view"] == "pending"
    assert body["views"]["pending"] == 3 and body["views"]["all"] == 3
    assert body["by_reason"] == {"too_fast": 3} and body["total"] == 3
    filtered = moderator.get(updates_url(moderator, "/moderate/?post_id=311")).json
    assert filtered["views"]["pending"] == 2 and filtered["by_reason"] == {"too_fast": 2}
    assert filtered["total"] == 2


def test_a_comment_with_two_reasons_counts_under_each_and_once_in_the_total(moderator, submit):
    held(submit, text="Red alert on the harbour")  # watched term first, too fast second
    held(submit)
    body = moderator.get(updates_url(moderator, "/moderate/?reason=too_fast")).json
    assert body["by_reason"] == {"too_fast": 2, "watched_term": 1} and body["total"] == 2
    assert body["views"]["pending"] == 2
    watched = moderator.get(updates_url(moderator, "/moderate/?reason=watched_term")).json
    assert watched["views"]["pending"] == 1 and watched["total"] == 2


def test_arrivals_since_the_page_was_drawn_and_not_older_ones(app, moderator, submit, keys, client):
    old = held(submit)
    age(app, old, hours=2)
    url = updates_url(moderator)
    assert moderator.get(url).json["arrived"] == []
    new = held(submit)
    # A comment the service approves is not in the pending view, so it did not arrive there.
    clean = submit(elapsed_ms=20000)
    assert clean.json["decision"] == "approve", clean.json
    body = moderator.get(url).json
    assert body["arrived"] == [new]
    assert body["views"]["pending"] == 2
    # An arrival a colleague has decided leaves the view, and so the list, on the next poll.
    decided = client.post(
        f"/v1/comments/{new}/review", json={"action": "approve"}, headers=auth(keys["admin"])
    )
    assert decided.status_code == 200
    assert moderator.get(url).json["arrived"] == []


def test_a_colleagues_decision_is_reported_with_who_and_what_but_ones_own_is_not(
    app, moderator, submit, keys
):
    theirs, mine = held(submit), held(submit)
    age(app, theirs, hours=1)
    age(app, mine, hours=1)
    url = updates_url(moderator)
    assert moderator.get(url).json["decided"] == []
    answer = moderator.post(
        f"/v1/comments/{theirs}/review",
        json={"action": "reject", "label": "spam", "reason": "spam"},
        headers=auth(keys["admin"]),
    )
    assert answer.status_code == 200
    mine_answer = moderator.post(
        f"/v1/comments/{mine}/review", json={"action": "approve"}, headers=auth(keys["moderator"])
    )
    assert mine_answer.status_code == 200
    body = moderator.get(url).json
    assert [(d["id"], d["status"], d["action"], d["by"], d["reason"]) for d in body["decided"]] == [
        (theirs, "rejected", "reject", "test admin", "spam")
    ]
    assert body["decided"][0]["age"].endswith("ago")
    assert body["views"]["pending"] == 0 and body["views"]["rejected"] == 1


def test_an_undo_by_a_colleague_is_their_latest_action_and_the_status_now(app, moderator, submit, keys):
    comment_id = held(submit)
    age(app, comment_id, hours=1)
    url = updates_url(moderator)
    for path, body in (
        (f"/v1/comments/{comment_id}/review", {"action": "approve"}),
        (f"/v1/comments/{comment_id}/review/undo", None),
    ):
        assert moderator.post(path, json=body, headers=auth(keys["admin"])).status_code == 200
    decided = moderator.get(url).json["decided"]
    assert [(d["id"], d["action"], d["status"]) for d in decided] == [(comment_id, "undo", "held")]


@pytest.mark.parametrize("since", ["", "soon", "-5", "1" * 16, "１２"])
def test_a_bad_since_is_a_400(moderator, since):
    response = moderator.get(f"/moderate/updates?since={since}")
    assert response.status_code == 400 and response.json["error"] == "bad_request"


def test_a_since_far_in_the_future_or_past_is_clamped_not_an_error(moderator, submit):
    comment_id = held(submit)
    assert moderator.get("/moderate/updates?since=999999999999999").json["arrived"] == [comment_id]
    assert moderator.get("/moderate/updates?since=0").json["arrived"] == [comment_id]


def test_an_unknown_view_is_a_400(moderator):
    assert moderator.get("/moderate/updates?since=0&view=nope").status_code == 400
