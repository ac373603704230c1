"""The review page's actions answered as JSON, for its script (Accept: application/json).

The form endpoints are the same ones a plain form post uses (tests/test_web.py); only the answer
differs: what was done to which comment, instead of notices and a redirect.
"""

from __future__ import annotations

import pytest

from tests.helpers import auth, status_of, token

JSON = {"Accept": "application/json"}


@pytest.fixture
def app_config(app_config):
    app_config.update(spam_reject=1.0, toxicity_reject=1.0)
    return app_config


@pytest.fixture
def held(submit):
    def _held(**fields) -> str:
        response = submit(elapsed_ms=100, **fields)
        assert response.json["decision"] == "hold", response.json
        return response.json["id"]

    return _held


def review(client, **form):
    form.setdefault("csrf_token", token(client, "/moderate/"))
    return client.post("/moderate/review", data=form, headers=JSON)


@pytest.mark.parametrize(
    ("back", "label", "status", "stays"),
    [
        ("", "ham", "approved", False),
        ("view=all", "ham", "approved", True),
        ("view=approved", "ham", "approved", True),
        ("view=approved", "spam", "rejected", False),
        ("view=rejected&post_id=3", "toxic", "rejected", True),
    ],
)
def test_a_verdict_answers_the_new_status_and_whether_the_card_stays_in_its_view(
    moderator, keys, held, back, label, status, stays
):
    comment_id = held()
    response = review(moderator, id=comment_id, label=label, back=back, seen=f"{comment_id}:held")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert [(d["id"], d["status"], d["stays"], d["by"]) for d in body["done"]] == [
        (comment_id, status, stays, "test moderator")
    ]
    assert body["taken"] == [] and body["missing"] == [] and body["undo_seconds"] > 0
    assert body["messages"][0]["level"] == "ok"
    assert status_of(moderator, keys, comment_id) == status


def test_a_rejection_with_a_reason_and_note_answers_them(moderator, held):
    comment_id = held()
    body = review(
        moderator, id=comment_id, label="reject", reason="off_topic", note="<b>not</b> about the post"
    ).json
    assert (body["done"][0]["reason"], body["done"][0]["note"]) == ("Off topic", "<b>not</b> about the post")
    assert body["messages"] == [{"level": "ok", "text": "Rejected (off topic): 1 comment."}]


def test_bulk_answers_each_comment_and_a_colleagues_one_as_taken(client, moderator, keys, held):
    ids = [held() for _ in range(3)]
    other = client.post(
        f"/v1/comments/{ids[1]}/review", json={"action": "approve"}, headers=auth(keys["admin"])
    )
    assert other.status_code == 200
    body = review(moderator, id=ids, label="spam", seen=[f"{i}:held" for i in ids]).json
    assert [d["id"] for d in body["done"]] == [ids[0], ids[2]] and body["taken"] == [ids[1]]
    assert [m["level"] for m in body["messages"]] == ["ok", "warn"]
    assert status_of(moderator, keys, ids[1]) == "approved"


def test_a_comment_a_colleague_decided_first_is_a_409_and_unchanged(client, moderator, keys, held):
    comment_id = held()
    other = client.post(
        f"/v1/comments/{comment_id}/review",
        json={"action": "reject", "label": "spam"},
        headers=auth(keys["admin"]),
    )
    assert other.status_code == 200
    response = review(moderator, id=comment_id, label="ham", seen=f"{comment_id}:held")
    assert response.status_code == 409 and response.json["taken"] == [comment_id]
    assert "Someone else reviewed this comment first" in response.json["messages"][0]["text"]
    assert status_of(moderator, keys, comment_id) == "rejected"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"label": "maybe"}, "Choose approve, spam, toxic or reject"),
        ({"label": "reject"}, "Choose a reason for the rejection."),
        ({"label": "reject", "reason": "other"}, "Say why in the note"),
    ],
)
def test_a_refused_verdict_is_a_400_that_says_why(moderator, keys, held, form, message):
    comment_id = held()
    response = review(moderator, id=comment_id, **form)
    assert response.status_code == 400 and response.json["done"] == []
    assert response.json["messages"][0]["text"].startswith(message)
    assert status_of(moderator, keys, comment_id) == "held"


@pytest.mark.parametrize("csrf", ["", "forged"])
def test_a_bad_security_token_is_a_400_json_message(moderator, keys, held, csrf):
    comment_id = held()
    response = moderator.post("/moderate/review", data={"id": comment_id, "label": "ham", "csrf_token": csrf},
                              headers=JSON)  # fmt: skip
    assert response.status_code == 400 and response.json["error"] == "bad_request"
    assert "security token" in response.json["message"]
    assert status_of(moderator, keys, comment_id) == "held"


def test_a_signed_out_action_is_a_401_json_not_a_redirect(moderator, keys, held):
    comment_id = held()
    csrf = token(moderator, "/moderate/")
    moderator.post("/moderate/logout", data={"csrf_token": csrf})
    response = moderator.post("/moderate/review", data={"id": comment_id, "label": "ham", "csrf_token": csrf},
                              headers=JSON)  # fmt: skip
    assert response.status_code == 401 and response.json["error"] == "signed_out"
    assert status_of(moderator, keys, comment_id) == "held"


def test_undo_answers_the_restored_statuses_and_then_nothing_to_undo(moderator, keys, held):
    ids = [held(), held()]
    assert review(moderator, id=ids, label="ham").status_code == 200
    csrf = token(moderator, "/moderate/")
    body = moderator.post("/moderate/undo", data={"csrf_token": csrf}, headers=JSON).json
    assert body["done"] == [{"id": ids[0], "status": "held"}, {"id": ids[1], "status": "held"}]
    assert body["messages"] == [{"level": "ok", "text": "Undone: 2 comment(s) are back in the queue."}]
    again = moderator.post("/moderate/undo", data={"csrf_token": csrf}, headers=JSON)
    assert again.status_code == 409 and again.json["messages"][0]["text"].startswith("Nothing to undo")
    assert [status_of(moderator, keys, i) for i in ids] == ["held", "held"]
