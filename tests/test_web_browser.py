"""The review page in a real browser: Playwright driving Debian's chromium against a served app."""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server

from moderation.store.repository import utcnow
from moderation.store.tables import Comment
from tests.helpers import CHROMIUM, ROOT, auth, comment

HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> <a href=javascript:alert(3)>prize</a>"

pytestmark = pytest.mark.slow


def chromium_path() -> str:
    """Debian's chromium: skip locally without it, fail where browser tests are required."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("MODERATION_TEST_REQUIRE_SERVICES") or os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium for the browser tests")
    pytest.skip(f"{CHROMIUM} is not installed (CI installs it and requires these tests)")


@pytest.fixture
def app_config(app_config):
    # Borderline scores hold instead of rejecting, so every test comment reaches the queue.
    app_config.update(spam_reject=1.0, toxicity_reject=1.0, flood_seconds=0, watched_terms="crypto")
    return app_config


@pytest.fixture
def live_url(app):
    """Serve the app for real on 127.0.0.1 and a free port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def page(request):
    """A fresh page in a context of its own (the session's chromium); dialogs are recorded and
    dismissed, console errors kept."""
    chromium_path()
    context = request.getfixturevalue("chromium").new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.dialogs = []
    tab.console_errors = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("console", lambda msg: msg.type == "error" and tab.console_errors.append(msg.text))
    yield tab
    context.close()


@pytest.fixture
def post(client, keys):
    """Submit a comment through the API as the client key; return its JSON answer."""

    def _post(**fields):
        response = client.post("/v1/comments", json=comment(**fields), headers=auth(keys["client"]))
        assert response.status_code == 201, response.json
        return response.json

    return _post


def sign_in(page, live_url: str, key: str) -> None:
    page.goto(f"{live_url}/moderate/login")
    page.fill("#key", key)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{live_url}/moderate/"


def test_sign_in_approve_with_keyboard_and_undo(page, live_url, keys, post, app):
    held = post(elapsed_ms=100, post_id="311")
    assert held["decision"] == "hold"
    sign_in(page, live_url, keys["moderator"])
    item = page.locator(f"#c-{held['id']}")
    assert item.is_visible() and "selected" in item.get_attribute("class")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert page.locator(f"#c-{held['id']}").count() == 0
    assert page.get_by_text("Approved: 1 comment.").is_visible()
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "approved"
    with page.expect_navigation():
        page.keyboard.press("u")
    assert page.locator(f"#c-{held['id']}").is_visible()
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "held"
    assert page.console_errors == []


def test_hostile_comment_is_shown_as_text_and_runs_nothing(page, live_url, keys, post):
    held = post(name="<img src=x onerror=alert(4)>", text=HOSTILE, elapsed_ms=100)
    assert held["decision"] == "hold"
    sign_in(page, live_url, keys["moderator"])
    item = page.locator(f"#c-{held['id']}")
    assert item.locator("p.text").inner_text() == HOSTILE
    assert item.locator(".author").inner_text() == "<img src=x onerror=alert(4)>"
    assert page.locator("main script, main img, [onerror], a[href^='javascript']").count() == 0
    page.keyboard.press("?")  # the shortcuts script runs under the CSP
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    item.locator("p.text").click()
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.console_errors == []  # includes Content-Security-Policy violations


def test_post_without_csrf_token_is_refused(page, live_url, keys, post, app):
    held = post(elapsed_ms=100)
    sign_in(page, live_url, keys["moderator"])
    request = page.context.request  # shares the signed-in session cookie
    for form in ({"id": held["id"], "label": "ham"}, {"id": held["id"], "label": "ham", "csrf_token": "x"}):
        response = request.post(f"{live_url}/moderate/review", form=form, max_redirects=0)
        assert response.status == 400
    page.reload()
    assert page.locator(f"#c-{held['id']}").is_visible()
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "held"


def test_screenshot_of_the_queue(page, live_url, keys, post, app, tmp_path):
    """Render a realistic queue; MODERATION_SCREENSHOT=1 (or a path) also refreshes docs/queue.png."""
    target = os.environ.get("MODERATION_SCREENSHOT")
    path = tmp_path / "queue.png"
    if target:
        path = ROOT / "docs" / "queue.png" if target == "1" else Path(target)
    post(
        name="Margaret Hollis",
        email="m.hollis@example.org",
        text="Thanks for following up on the shipyard story.",
        elapsed_ms=30000,
    )
    comments = [
        post(
            name="Margaret Hollis",
            email="m.hollis@example.org",
            url="https://hollis-notes.example/defence",
            post_id="frigate-delays",
            text="The piece skips the 2019 audit entirely. I've put the relevant pages at "
            "https://hollis-notes.example/audit-2019 - worth reading before blaming the shipyard.",
            elapsed_ms=95000,
            ip="198.51.100.23",
        ),
        post(
            name="Dave R",
            email="dave.r1987@example.net",
            post_id="budget-vote",
            text="Anyone who still believes this minister is either an idiot or paid to be one. "
            "Pathetic reporting as usual.",
            elapsed_ms=21000,
            ip="203.0.113.54",
        ),
        post(
            name="Profit Daily",
            email="fastprofit@example.com",
            post_id="budget-vote",
            text="Made $4,200 this week with the new crypto trading app!! Message me on WhatsApp "
            "for a free invite code, only 10 spots left",
            elapsed_ms=1200,
            ip="192.0.2.200",
        ),
    ]
    assert [c["decision"] for c in comments] == ["hold"] * 3
    store = app.extensions["moderation"].store
    with store.engine.begin() as connection:
        for minutes, held in zip((47, 18, 4), comments, strict=True):
            connection.execute(
                update(Comment)
                .where(Comment.id == held["id"])
                .values(created_at=utcnow() - timedelta(minutes=minutes))
            )
    sign_in(page, live_url, keys["moderator"])
    page.keyboard.press("j")
    for held in comments:
        assert page.locator(f"#c-{held['id']}").is_visible()
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_changing_a_decision_an_hour_later_from_the_rejected_view(page, live_url, keys, post, app, client):
    held = post(elapsed_ms=100, post_id="412", client_comment_id="wp-412")
    reviewed = client.post(f"/v1/comments/{held['id']}/review", json={"action": "reject", "label": "spam"},
                           headers=auth(keys["admin"]))  # fmt: skip
    assert reviewed.status_code == 200
    from moderation.store.tables import Review

    hour_ago = utcnow() - timedelta(hours=1)
    store = app.extensions["moderation"].store
    with store.engine.begin() as connection:
        connection.execute(
            update(Comment).where(Comment.id == held["id"]).values(created_at=hour_ago, reviewed_at=hour_ago)
        )
        connection.execute(update(Review).where(Review.comment_id == held["id"]).values(created_at=hour_ago))
    sign_in(page, live_url, keys["moderator"])
    with page.expect_navigation():
        page.get_by_role("link", name="Rejected 1").click()
    item = page.locator(f"#c-{held['id']}")
    assert "Rejected by test admin 1 h ago" in item.locator(".decision").inner_text()
    item.locator("summary").click()
    item.locator("textarea[name=note]").fill("a fair question, not spam")
    with page.expect_navigation():
        item.get_by_role("button", name="Approve").click()
    assert page.get_by_text("Approved: 1 comment.").is_visible()
    assert page.url.endswith("/moderate/?view=rejected") and page.locator(f"#c-{held['id']}").count() == 0
    assert store.get_comment(held["id"]).status == "approved"
    audit = app.extensions["moderation"].queue.audit(held["id"])
    assert [(a["from_status"], a["to_status"], a["by"], a["note"]) for a in audit][-1] == (
        "rejected", "approved", "test moderator", "a fair question, not spam",
    )  # fmt: skip
    with page.expect_navigation():
        page.get_by_role("link", name="Approved 1").click()
    approved = page.locator(f"#c-{held['id']}")
    assert "Approved by test moderator" in approved.locator(".decision").inner_text()
    assert "a fair question, not spam" in approved.locator(".decision").inner_text()
    assert page.console_errors == []


def test_reported_queue_shows_the_report_and_rejecting_resolves_it(page, live_url, keys, client, app):
    published = client.post("/v1/comments", json=comment(), headers=auth(keys["client"])).json
    assert published["decision"] == "approve"
    report = {"reason": "misinformation", "reporter": "reader-55", "text": "The date is wrong <b>again</b>"}
    response = client.post(
        f"/v1/comments/{published['id']}/reports", json=report, headers=auth(keys["client"])
    )
    assert response.status_code == 201
    sign_in(page, live_url, keys["moderator"])
    with page.expect_navigation():
        page.get_by_role("link", name="Reported 1").click()
    item = page.locator(f"#c-{published['id']}")
    reports = item.locator(".reports")
    assert "1 open report" in reports.inner_text() and "Misinformation 1" in reports.inner_text()
    assert reports.locator("q").inner_text() == "The date is wrong <b>again</b>"
    item.locator("summary").click()
    item.locator("select[name=reason]").select_option("off_topic")
    with page.expect_navigation():
        item.get_by_role("button", name="Reject with this reason").click()
    assert page.get_by_text("Rejected (off topic): 1 comment.").is_visible()
    assert page.locator(f"#c-{published['id']}").count() == 0
    assert page.get_by_role("link", name="Reported 0").is_visible()
    stored = app.extensions["moderation"].store.get_comment(published["id"])
    assert (stored.status, stored.review_reason) == ("rejected", "off_topic")
    assert page.console_errors == []


# How far right the last character of "gnp.exe" is drawn compared with its first: positive when the
# text reads in the order it was typed, negative when a right-to-left override reversed it.
DRAWN_ORDER = """(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf("gnp.exe");
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + 1);
    const first = range.getBoundingClientRect().left;
    range.setStart(node, at + 6);
    range.setEnd(node, at + 7);
    return range.getBoundingClientRect().left - first;
  }
  return null;
}"""


def test_a_right_to_left_override_does_not_reverse_the_card(page, live_url, keys, post):
    text = "Your invoice: https://files.example/photo_\u202egnp.exe please open it"
    held = post(text=text, elapsed_ms=100)
    assert held["decision"] == "hold"
    sign_in(page, live_url, keys["moderator"])
    card_text = page.locator(f"#c-{held['id']} p.text")
    assert card_text.locator(".bidi-control").inner_text() == "\u27e8RLO\u27e9"
    assert card_text.locator(".bidi-control").is_visible()
    assert card_text.evaluate(DRAWN_ORDER) > 0, "drawn in typed order: photo_⟨RLO⟩gnp.exe"
    # The measurement can tell: the same text inserted as is (no marker) is drawn reversed.
    page.evaluate(
        """(text) => {
          const p = document.createElement("p");
          p.id = "raw";
          p.textContent = text;
          document.querySelector("main").append(p);
        }""",
        text,
    )
    assert page.locator("#raw").evaluate(DRAWN_ORDER) < 0
    assert page.console_errors == []


def test_a_long_comment_is_collapsed_until_show_all(page, live_url, keys, post):
    long_text = ("The committee's report lists every procurement delay since 2019, in order. " * 130)[:9000]
    held = post(text=long_text.strip(), elapsed_ms=100)
    short = post(text="Short and to the point.", elapsed_ms=100)
    assert held["decision"] == short["decision"] == "hold"
    sign_in(page, live_url, keys["moderator"])
    card = page.locator(f"#c-{held['id']}")
    collapsed = card.bounding_box()["height"]
    short_height = page.locator(f"#c-{short['id']}").bounding_box()["height"]
    assert collapsed < 700, f"a 9,000-character comment's card is {collapsed:.0f} px tall while collapsed"
    card.get_by_text("Show all (8,999 characters)").click()
    expanded = card.bounding_box()["height"]
    assert expanded > 1500 and expanded > collapsed * 2.5
    assert card.get_by_text("Show less").is_visible()
    card.get_by_text("Show less").click()
    assert card.bounding_box()["height"] == collapsed
    assert page.locator(f"#c-{short['id']}").bounding_box()["height"] == short_height
    assert page.console_errors == []


def test_signing_out_refuses_a_copied_cookie_in_another_browser(page, live_url, keys):
    sign_in(page, live_url, keys["moderator"])
    copied = page.context.cookies()
    assert [c["name"] for c in copied] == ["session"]
    other = page.context.browser.new_context()
    try:
        other.add_cookies(copied)
        thief = other.new_page()
        thief.goto(f"{live_url}/moderate/")
        assert thief.url == f"{live_url}/moderate/"  # the copy works while the session is live
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out").click()
        assert page.url == f"{live_url}/moderate/login"
        assert page.get_by_text("You are signed out.").is_visible()
        thief.goto(f"{live_url}/moderate/")
        assert thief.url == f"{live_url}/moderate/login"
        assert thief.get_by_text("This session was signed out.").is_visible()
    finally:
        other.close()


def test_author_drawer_opens_from_a_card_and_bans_from_it(page, live_url, keys, post, app):
    held = post(email="ring@example.org", name="Ring Leader", elapsed_ms=100, ip="198.51.100.7")
    assert held["decision"] == "hold"
    sign_in(page, live_url, keys["moderator"])
    page.locator(f"#c-{held['id']} a.author-link.author").click()
    drawer = page.locator("#author-drawer")
    drawer.locator("h1").wait_for()
    assert drawer.is_visible() and "ring@example.org" in drawer.inner_text()
    # Focus moved into the drawer, and a verdict key does nothing to the queue while it is open.
    assert page.evaluate("document.activeElement.closest('#author-drawer') !== null")
    page.keyboard.press("a")
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "held"
    page.keyboard.press("Escape")
    assert not drawer.is_visible()
    page.locator(f"#c-{held['id']} a.author-more").click()
    drawer.locator("h1").wait_for()
    drawer.get_by_text("Ban…").click()
    drawer.locator("textarea[name=reason]").first.fill("Spam ring")
    drawer.locator("select[name=ip]").select_option("198.51.100.7")
    with page.expect_navigation():
        drawer.get_by_role("button", name="Ban ring@example.org").click()
    assert page.get_by_text("Banned: ring@example.org; 1 held comment(s) rejected.").is_visible()
    assert page.locator(".badge.in-force.ban").is_visible()
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "rejected"
    again = post(email="ring@example.org", text="A new and clean remark.")
    assert again["reason"]["code"] == "blocked_author"
    assert page.console_errors == []


def test_live_update_announces_a_new_comment_and_marks_a_colleagues_decision(
    page, live_url, keys, post, app, client
):
    from playwright.sync_api import expect

    app.config["MODERATE_POLL_SECONDS"] = 0.3
    first, second = post(elapsed_ms=100), post(elapsed_ms=100)
    sign_in(page, live_url, keys["moderator"])
    prompt = page.locator("#live button.new-comments")
    pending = page.locator("nav.views a[aria-current=page] b")
    expect(pending).to_have_text("2")
    assert prompt.is_hidden()

    arrived = post(elapsed_ms=100)
    assert arrived["decision"] == "hold"
    expect(prompt).to_have_text("1 new — show")
    expect(pending).to_have_text("3")
    expect(page.locator("h1.page-title span")).to_have_text("(3)")
    # Announced, not inserted: the list under the moderator's eyes is as it was.
    assert page.locator("li.comment").count() == 2

    decided = client.post(
        f"/v1/comments/{first['id']}/review",
        json={"action": "reject", "label": "spam", "reason": "spam"},
        headers=auth(keys["admin"]),
    )
    assert decided.status_code == 200
    card = page.locator(f"#c-{first['id']}")
    expect(card).to_have_class(re.compile(r"\bdecided-elsewhere\b"))
    expect(card.locator("p.elsewhere")).to_contain_text("Rejected by test admin")
    expect(pending).to_have_text("2")
    # The greyed card stays where it was; the other card is untouched.
    assert page.locator("li.comment").first.get_attribute("id") == f"c-{first['id']}"
    assert "decided-elsewhere" not in page.locator(f"#c-{second['id']}").get_attribute("class")

    with page.expect_navigation():
        prompt.click()
    expect(page.locator(f"#c-{arrived['id']}")).to_be_visible()
    assert page.locator(f"#c-{first['id']}").count() == 0
    assert prompt.is_hidden()
    assert page.console_errors == []
