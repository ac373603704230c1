"""The review page in a real browser: Playwright driving Debian's chromium against a served app."""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
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
def open_tab(request):
    """Open a page in a fresh context of the session's chromium (options as for new_context);
    dialogs are recorded and dismissed, console errors kept. Every context is closed after the test."""
    chromium_path()
    browser = request.getfixturevalue("chromium")
    contexts = []

    def _open(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        contexts.append(context)
        tab = context.new_page()
        tab.dialogs = []
        tab.console_errors = []
        tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        tab.on("console", lambda msg: msg.type == "error" and tab.console_errors.append(msg.text))
        return tab

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_tab):
    """A fresh chromium page at a desktop size."""
    return open_tab()


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
    assert item.is_visible() and "current" in item.get_attribute("class")
    page.keyboard.press("a")
    expect(page.locator("#live .action-status")).to_have_text("Approved: 1 comment.")
    expect(item).to_be_hidden()
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "approved"
    page.keyboard.press("u")
    expect(page.locator("#live .action-status")).to_have_text("Undone: 1 comment(s) are back in the queue.")
    expect(item).to_be_visible()
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
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved: 1 comment.")).to_be_visible()
    # Approved is no longer in the rejected view: the card leaves it, without a reload.
    assert page.url.endswith("/moderate/?view=rejected") and item.is_hidden()
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
    item.get_by_role("button", name="Reject with this reason").click()
    expect(page.get_by_text("Rejected (off topic): 1 comment.")).to_be_visible()
    expect(item).to_be_hidden()
    expect(page.get_by_role("link", name="Reported 0")).to_be_visible()
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
    page.evaluate("window.notReloaded = true")
    drawer.get_by_role("button", name="Ban ring@example.org").click()
    # Done in the drawer, in place: it shows the author page with the notice; the queue stays.
    expect(drawer.get_by_text("Banned: ring@example.org; 1 held comment(s) rejected.")).to_be_visible()
    assert drawer.locator(".badge.in-force.ban").is_visible()
    assert app.extensions["moderation"].store.get_comment(held["id"]).status == "rejected"
    assert page.evaluate("window.notReloaded") is True
    page.keyboard.press("Escape")
    expect(page.locator(f"#c-{held['id']}")).to_be_hidden()
    expect(page.locator("nav.views a[aria-current=page] b")).to_have_text("0")
    again = post(email="ring@example.org", text="A new and clean remark.")
    assert again["reason"]["code"] == "blocked_author"
    assert page.console_errors == []


def test_screenshot_of_the_author_drawer(page, live_url, keys, post, app, tmp_path):
    """An author with a history; MODERATION_SCREENSHOT=1 also refreshes docs/author-drawer.png."""
    target = os.environ.get("MODERATION_SCREENSHOT")
    path = tmp_path / "author-drawer.png"
    if target:
        path = (
            ROOT / "docs" / "author-drawer.png"
            if target == "1"
            else Path(target).with_name("author-drawer.png")
        )
    author = {"name": "Vic Harlan", "email": "vic.harlan@example.net"}
    post(**author, text="Good summary of the procurement row, thanks.", elapsed_ms=40000, ip="203.0.113.9")
    post(**author, text="The committee dodged the question about the tanker contract again.",
         elapsed_ms=52000, ip="203.0.113.9", post_id="tanker-deal")  # fmt: skip
    held = post(**author, text="Anyone who still defends this minister is a pathetic idiot. Shut up.",
                elapsed_ms=900, ip="198.51.100.77", post_id="budget-vote")  # fmt: skip
    assert held["decision"] in ("hold", "reject")
    sign_in(page, live_url, keys["moderator"])
    page.goto(f"{live_url}/moderate?view=all")
    page.locator(f"#c-{held['id']} a.author-link.author").click()
    drawer = page.locator("#author-drawer")
    drawer.locator("h1").wait_for()
    text = drawer.inner_text()
    assert "vic.harlan@example.net" in text and "198.51.100.77" in text and "203.0.113.9" in text
    page.screenshot(path=str(path), full_page=False)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_live_update_announces_a_new_comment_and_marks_a_colleagues_decision(
    page, live_url, keys, post, app, client
):
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


# --- acting in place, keyboard and focus, the phone layout, no script -----------------------------

ACTIVE_CARD = "document.activeElement && document.activeElement.id"


def held_comments(post, n: int) -> list[str]:
    """n held comments of the same length (so their cards are of a height), oldest first."""
    text = "Comment number {:02d} about the harbour works."
    return [post(elapsed_ms=100, text=text.format(i))["id"] for i in range(n)]


def test_an_action_in_place_keeps_the_page_scroll_and_moves_the_highlight(page, live_url, keys, post, app):
    ids = held_comments(post, 9)
    sign_in(page, live_url, keys["moderator"])
    assert (
        page.locator("form.filters").is_visible() and page.locator("details.filter-box > summary").is_hidden()
    )
    page.evaluate("window.notReloaded = 'still here'")
    for _ in range(4):
        page.keyboard.press("j")
    assert page.evaluate(ACTIVE_CARD) == f"c-{ids[4]}"
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0, "the fifth card is below the first screen"
    top = page.locator(f"#c-{ids[4]}").evaluate("(card) => card.getBoundingClientRect().top")
    page.keyboard.press("a")
    expect(page.locator(f"#c-{ids[4]}")).to_be_hidden()
    expect(page.locator("nav.views a[aria-current=page] b")).to_have_text("8")
    expect(page.locator("h1.page-title span")).to_have_text("(8)")
    assert page.evaluate("window.notReloaded") == "still here"
    # No jump: the page is still scrolled down, and the next card is where the decided one was.
    assert page.evaluate("window.scrollY") >= scrolled
    now = page.locator(f"#c-{ids[5]}").evaluate("(card) => card.getBoundingClientRect().top")
    assert abs(now - top) < 1, (now, top)  # scrolling is in whole pixels
    # The next card is highlighted and focused, and the keys now act on it.
    assert page.evaluate(ACTIVE_CARD) == f"c-{ids[5]}"
    assert "current" in page.locator(f"#c-{ids[5]}").get_attribute("class")
    store = app.extensions["moderation"].store
    assert [store.get_comment(i).status for i in ids[3:6]] == ["held", "approved", "held"]
    page.keyboard.press("s")
    expect(page.locator(f"#c-{ids[5]}")).to_be_hidden()
    assert store.get_comment(ids[5]).status == "rejected"
    assert page.evaluate(ACTIVE_CARD) == f"c-{ids[6]}"
    assert page.evaluate("window.notReloaded") == "still here"
    assert page.console_errors == []


def test_in_the_all_view_the_card_stays_and_shows_its_new_status(page, live_url, keys, post, app):
    first, second = held_comments(post, 2)
    sign_in(page, live_url, keys["moderator"])
    page.goto(f"{live_url}/moderate/?view=all")
    card = page.locator(f"#c-{first}")
    card.locator("summary").click()
    card.locator("textarea[name=note]").fill("<img src=x onerror=alert(5)> looks fine")
    card.get_by_role("button", name="Approve").click()
    expect(card.locator("p.decision")).to_have_text(
        "Approved by test moderator just now · note: <img src=x onerror=alert(5)> looks fine"
    )
    assert card.is_visible() and card.get_attribute("data-status") == "approved"
    assert card.locator("input[name=seen]").first.get_attribute("value") == f"{first}:approved"
    assert page.evaluate(ACTIVE_CARD) == f"c-{second}"
    assert page.locator("main img").count() == 0 and page.dialogs == []
    assert app.extensions["moderation"].store.get_comment(first).status == "approved"
    assert page.console_errors == []


def test_x_on_two_cards_then_a_approves_both(page, live_url, keys, post, app):
    ids = held_comments(post, 3)
    sign_in(page, live_url, keys["moderator"])
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    for comment_id in ids[:2]:
        card = page.locator(f"#c-{comment_id}")
        assert "selected" in card.get_attribute("class")
        assert card.locator(".selected-mark").inner_text() == "✓ Selected"
        assert card.locator(".selected-mark").is_visible()
    assert page.locator(f"#c-{ids[2]} .selected-mark").is_hidden()
    page.keyboard.press("a")
    expect(page.locator("#live .action-status")).to_have_text("Approved: 2 comments.")
    expect(page.locator(f"#c-{ids[0]}")).to_be_hidden()
    expect(page.locator(f"#c-{ids[1]}")).to_be_hidden()
    store = app.extensions["moderation"].store
    assert [store.get_comment(i).status for i in ids] == ["approved", "approved", "held"]
    assert page.evaluate(ACTIVE_CARD) == f"c-{ids[2]}"
    # With the selection gone, the next key acts on the current card only.
    page.keyboard.press("u")
    expect(page.locator(f"#c-{ids[0]}")).to_be_visible()
    assert [store.get_comment(i).status for i in ids] == ["held", "held", "held"]
    assert page.console_errors == []


def test_keys_are_ignored_while_the_help_is_open_and_focus_stays_in_it(page, live_url, keys, post, app):
    first, second = held_comments(post, 2)
    sign_in(page, live_url, keys["moderator"])
    reviews = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/review") and reviews.append(r.url))
    page.keyboard.press("?")
    help_dialog = page.locator("#help")
    expect(help_dialog).to_be_visible()
    assert page.evaluate("document.activeElement.closest('#help') !== null")
    for key in ("a", "j", "x", "Tab", "Tab", "Shift+Tab", "Tab"):
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement.closest('#help') !== null"), key
    assert page.locator(f"#c-{first} input[type=checkbox]").is_checked() is False
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    assert page.evaluate(ACTIVE_CARD) == f"c-{first}"
    page.keyboard.press("a")
    expect(page.locator(f"#c-{first}")).to_be_hidden()
    store = app.extensions["moderation"].store
    assert (store.get_comment(first).status, store.get_comment(second).status) == ("approved", "held")
    assert len(reviews) == 1
    assert page.console_errors == []


def test_clicking_or_tabbing_into_a_card_makes_it_the_focused_and_highlighted_one(
    page, live_url, keys, post, app
):
    ids = held_comments(post, 3)
    sign_in(page, live_url, keys["moderator"])
    page.locator(f"#c-{ids[1]} p.text").click()
    assert page.evaluate(ACTIVE_CARD) == f"c-{ids[1]}"
    classes = [page.locator(f"#c-{i}").get_attribute("class") for i in ids]
    assert ["current" in c.split() for c in classes] == [False, True, False]
    assert [page.locator(f"#c-{i}").get_attribute("tabindex") for i in ids] == ["-1", "0", "-1"]
    # Focus inside a card (a button reached with Tab) also makes it the current card.
    page.locator(f"#c-{ids[2]} button.spam").focus()
    assert "current" in page.locator(f"#c-{ids[2]}").get_attribute("class").split()
    assert "current" not in page.locator(f"#c-{ids[1]}").get_attribute("class").split()
    page.keyboard.press("a")
    expect(page.locator(f"#c-{ids[2]}")).to_be_hidden()
    store = app.extensions["moderation"].store
    assert [store.get_comment(i).status for i in ids] == ["held", "held", "approved"]
    assert page.evaluate(ACTIVE_CARD) == f"c-{ids[1]}"
    assert page.console_errors == []


def test_errors_of_an_action_are_shown_in_the_card_as_text(page, live_url, keys, post, app, client):
    taken, forged, last = held_comments(post, 3)
    sign_in(page, live_url, keys["moderator"])
    decided = client.post(
        f"/v1/comments/{taken}/review", json={"action": "approve"}, headers=auth(keys["admin"])
    )
    assert decided.status_code == 200
    page.keyboard.press("s")
    error = page.locator(f"#c-{taken} p.action-error")
    expect(error).to_have_text("Someone else reviewed this comment first; reload to see their decision.")
    assert page.locator(f"#c-{taken}").is_visible()
    # A stale security token: refused, said in the card.
    page.locator(f"#c-{forged} input[name=csrf_token]").evaluate("(input) => { input.value = 'forged'; }")
    page.locator(f"#c-{forged} p.text").click()
    page.keyboard.press("a")
    expect(page.locator(f"#c-{forged} p.action-error")).to_contain_text("security token did not match")
    # Signed out elsewhere: nothing changes, and the page says how to sign in again.
    other = page.context.request.post(
        f"{live_url}/moderate/logout",
        form={"csrf_token": page.locator("form.signout input[name=csrf_token]").get_attribute("value")},
        max_redirects=0,
    )
    assert other.status == 303
    page.locator(f"#c-{last} p.text").click()
    page.keyboard.press("a")
    expect(page.locator("#live .action-status")).to_contain_text(
        "Your session has ended; nothing was changed."
    )
    store = app.extensions["moderation"].store
    assert [store.get_comment(i).status for i in (taken, forged, last)] == ["approved", "held", "held"]
    # The browser logs each refused request; nothing else went wrong.
    assert page.console_errors == [
        f"Failed to load resource: the server responded with a status of {status}"
        for status in ("409 (CONFLICT)", "400 (BAD REQUEST)", "401 (UNAUTHORIZED)")
    ]


def test_on_a_phone_hints_are_hidden_buttons_are_touch_sized_and_filters_fold(open_tab, live_url, keys, post):
    held_comments(post, 2)
    page = open_tab(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    sign_in(page, live_url, keys["moderator"])
    shown_hints = page.locator("kbd").evaluate_all(
        "(all) => all.filter((k) => k.getClientRects().length).length"
    )
    assert page.locator("kbd").count() > 0 and shown_hints == 0
    heights = page.locator("form.verdict button:visible, form#bulk button").evaluate_all(
        "(all) => all.map((b) => b.getBoundingClientRect().height)"
    )
    assert len(heights) >= 9 and min(heights) >= 44
    assert page.locator("form#bulk > span").inner_text() == "With selected:"
    widths = page.locator("li.comment form.verdict button:visible").evaluate_all(
        "(all) => all.map((b) => b.getBoundingClientRect().width)"
    )
    assert min(widths) >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("form.filters").is_hidden()
    page.locator("details.filter-box > summary").click()
    assert page.locator("form.filters input[name=q]").is_visible()
    assert page.console_errors == []


def test_without_javascript_the_forms_post_and_the_page_reloads(open_tab, live_url, keys, post, app):
    first, second = held_comments(post, 2)
    page = open_tab(java_script_enabled=False)
    sign_in(page, live_url, keys["moderator"])
    assert page.locator("form.undo").is_hidden()
    with page.expect_navigation():
        page.locator(f"#c-{first}").get_by_role("button", name="Approve").click()
    assert page.get_by_text("Approved: 1 comment.").is_visible()
    assert page.locator(f"#c-{first}").count() == 0 and page.locator(f"#c-{second}").is_visible()
    store = app.extensions["moderation"].store
    assert store.get_comment(first).status == "approved"
    with page.expect_navigation():
        page.get_by_role("button", name="Undo").click()
    assert page.get_by_text("Undone: 1 comment(s) are back in the queue.").is_visible()
    assert store.get_comment(first).status == "held"


def test_marks_name_themselves_and_live_counts_count_a_comment_with_two_reasons_once(
    page, live_url, keys, post, app
):
    from playwright.sync_api import expect

    app.config["MODERATE_POLL_SECONDS"] = 0.3
    both = post(text="The crypt0 column was fair", elapsed_ms=100)
    assert [r["code"] for r in both["reasons"]][:2] == ["watched_term", "too_fast"], both
    sign_in(page, live_url, keys["moderator"])
    # The disguised spelling is marked, and the mark says what it is in words, not colour alone.
    mark = page.locator(f"#c-{both['id']} p.text mark.watched")
    expect(mark).to_have_attribute("title", "watched term")
    assert mark.inner_text().startswith("crypt0")
    hidden = mark.locator(".visually-hidden")
    assert hidden.text_content() == " (watched term)" and hidden.bounding_box()["width"] <= 1
    legend = page.locator("p.legend")
    expect(legend).to_be_visible()
    expect(legend.locator("mark.watched")).to_have_text("watched term")
    # The live counts: the reason counts count each reason, "All held" each comment once.
    all_held = page.locator("nav.counts a").first.locator("b")
    too_fast = page.locator("nav.counts a", has_text="Typed too fast").locator("b")
    expect(all_held).to_have_text("1")
    post(elapsed_ms=100)
    expect(too_fast).to_have_text("2")
    expect(all_held).to_have_text("2")
    assert page.console_errors == []
