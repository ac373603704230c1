"""The author page (the queue's author drawer) through Flask's test client: escaping, CSRF, actions."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.helpers import HOSTILE, auth, token


@pytest.fixture
def app_config(app_config):
    app_config.update(spam_reject=1.0, toxicity_reject=1.0, flood_seconds=0)
    return app_config


def page(client, email: str) -> str:
    response = client.get(f"/moderate/authors?email={quote(email)}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_card_links_to_the_author_page_which_shows_everything_escaped(moderator, submit):
    held = submit(
        name=HOSTILE[:150], email="ann@example.org", text=HOSTILE, elapsed_ms=100, ip="198.51.100.7"
    )
    assert held.json["decision"] == "hold"
    submit(email="sock@example.org", ip="198.51.100.7")
    queue = moderator.get("/moderate/").get_data(as_text=True)
    assert 'href="/moderate/authors?email=ann@example.org"' in queue
    assert 'id="author-drawer"' in queue and "Author…" in queue
    csrf = token(moderator, "/moderate/authors?email=ann%40example.org")
    note = moderator.post(
        "/moderate/authors/note", data={"email": "ann@example.org", "text": HOSTILE, "csrf_token": csrf}
    )
    assert note.status_code == 303 and "/moderate/authors?email=ann@example.org" in note.headers["Location"]
    html = page(moderator, "ANN@example.org")
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'class="author-view"' in html and "198.51.100.7" in html and "sock@example.org" in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # the note and the comment
    assert moderator.get("/moderate/authors?email=nobody").status_code == 404


def test_author_forms_need_csrf(moderator, submit):
    submit(email="ann@example.org")
    for path, data in (
        ("/moderate/authors/note", {"email": "ann@example.org", "text": "x"}),
        ("/moderate/authors/act", {"email": "ann@example.org", "action": "premoderate", "reason": "x"}),
        ("/moderate/authors/lift", {"email": "ann@example.org", "action_id": "1", "reason": "x"}),
    ):
        assert moderator.post(path, data=data).status_code == 400
        assert moderator.post(path, data={**data, "csrf_token": "forged"}).status_code == 400
    assert "No notes yet." in page(moderator, "ann@example.org")
    assert "Always held</span>" not in page(moderator, "ann@example.org")


def test_ban_from_the_page_rejects_held_comments_and_lift_from_the_page(moderator, submit, keys, client):
    held = submit(email="ann@example.org", elapsed_ms=100, ip="198.51.100.7").json
    assert held["decision"] == "hold"
    csrf = token(moderator, "/moderate/authors?email=ann%40example.org")
    banned = moderator.post(
        "/moderate/authors/act",
        data={"email": "ann@example.org", "action": "ban", "reason": "Spam ring", "ip": "198.51.100.7",
              "reject_pending": "1", "reject_reason": "spam", "csrf_token": csrf},
        follow_redirects=True,
    )  # fmt: skip
    html = banned.get_data(as_text=True)
    assert "Banned: ann@example.org; 1 held comment(s) rejected." in html
    assert 'class="badge in-force ban"' in html and "Spam ring" in html
    status = client.get(f"/v1/comments/{held['id']}", headers=auth(keys["moderator"])).json["status"]
    assert status == "rejected"
    assert submit(email="ann@example.org", text="Back again.").json["reason"]["code"] == "blocked_author"
    view = client.get("/v1/authors/ann%40example.org", headers=auth(keys["moderator"])).json
    action_id = view["actions"][0]["id"]
    missing_reason = moderator.post(
        "/moderate/authors/lift",
        data={"email": "ann@example.org", "action_id": str(action_id), "reason": " ", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert "Say why" in missing_reason.get_data(as_text=True)
    lifted = moderator.post(
        "/moderate/authors/lift",
        data={
            "email": "ann@example.org",
            "action_id": str(action_id),
            "reason": "Appeal",
            "csrf_token": csrf,
        },
        follow_redirects=True,
    )
    assert "Lifted: banned." in lifted.get_data(as_text=True)
    assert submit(email="ann@example.org", text="Thanks for the fair hearing.").json["decision"] != "reject"


def test_suspend_form_checks_the_days(moderator, submit):
    submit(email="ann@example.org")
    csrf = token(moderator, "/moderate/authors?email=ann%40example.org")
    data = {"email": "ann@example.org", "action": "suspend", "reason": "cool off", "csrf_token": csrf}
    bad = moderator.post("/moderate/authors/act", data={**data, "days": "soon"}, follow_redirects=True)
    assert "Say for how many days" in bad.get_data(as_text=True)
    good = moderator.post("/moderate/authors/act", data={**data, "days": "2"}, follow_redirects=True)
    html = good.get_data(as_text=True)
    assert "Suspended: ann@example.org." in html and 'class="badge in-force suspend"' in html
    assert submit(email="ann@example.org", text="Polite words.").json["reason"]["code"] == "suspended_author"


def test_search_box_filters_the_queue_and_keeps_the_search_across_views(moderator, submit):
    budget = submit(text="The budget vote was close.", email="ann@example.org", elapsed_ms=100).json
    ferry = submit(text="Ferry times changed again.", email="bo@example.org", elapsed_ms=100).json
    queue = moderator.get("/moderate/").get_data(as_text=True)
    assert 'name="q"' in queue and 'name="email"' in queue and 'name="ip"' in queue
    found = moderator.get("/moderate/?q=budget").get_data(as_text=True)
    assert f'id="c-{budget["id"]}"' in found and f'id="c-{ferry["id"]}"' not in found
    assert 'href="/moderate/?q=budget&amp;view=all"' in found or "view=all&amp;q=budget" in found
    by_email = moderator.get("/moderate/?email=bo%40").get_data(as_text=True)
    assert f'id="c-{ferry["id"]}"' in by_email and f'id="c-{budget["id"]}"' not in by_email
    nothing = moderator.get("/moderate/?q=nowhere").get_data(as_text=True)
    assert "Nothing is waiting for review with these filters." in nothing


def test_posts_page_lists_pending_and_reported_per_post_escaped(moderator, submit):
    submit(post_id="<b>p1</b>", elapsed_ms=100)
    submit(post_id="<b>p1</b>", elapsed_ms=100)
    submit(post_id="p2", elapsed_ms=100)
    html = moderator.get("/moderate/posts").get_data(as_text=True)
    assert "<b>p1</b>" not in html and "&lt;b&gt;p1&lt;/b&gt;" in html
    assert html.index("&lt;b&gt;p1&lt;/b&gt;") < html.index(">p2<")  # most pending first
    assert 'href="/moderate/?post_id=%3Cb%3Ep1%3C/b%3E"' in html
    assert moderator.get("/moderate/posts?sort=nonsense&offset=x").status_code == 200
