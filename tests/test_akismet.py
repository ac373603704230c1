"""The Akismet-compatible API, driven by the real `akismet` client from PyPI and by raw form posts."""

from __future__ import annotations

import itertools
from typing import Any

import akismet
import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from moderation.store.tables import Comment, Label
from tests.helpers import auth

SPAM = (
    "CONGRATULATIONS!!! You have been selected to receive a $1000 gift card. Claim now at "
    "http://free-gift-cards.example/claim?ref=883 or WhatsApp +1 555 0199 before midnight!!!"
)
CLEAN = "Good piece. The section on the frigate programme's delays was especially clear."
BLOG = "https://news.example/"

_authors = itertools.count(1)


def author() -> dict[str, Any]:
    """A new commenter (name, email, IP) each time, so flood and duplicate checks stay quiet."""
    n = next(_authors)
    return {
        "user_ip": f"198.51.100.{n % 250 + 1}",
        "comment_author": f"Reader {n}",
        "comment_author_email": f"akismet-reader{n}@example.org",
    }


def sync_client(app, key: str) -> akismet.SyncClient:
    """An akismet.SyncClient whose requests (to rest.akismet.com) are served by the app in-process."""
    http = httpx.Client(transport=httpx.WSGITransport(app=app), headers={"User-Agent": akismet.USER_AGENT})
    return akismet.SyncClient(config=akismet.Config(key=key, url=BLOG), http_client=http)


@pytest.fixture
def site(app, keys) -> akismet.SyncClient:
    return sync_client(app, keys["client"])


@pytest.fixture
def keyed_app(make_app):
    """Build an app with configuration overrides and return it with a new client key."""

    def _make(**overrides: Any) -> tuple[Flask, str]:
        configured = make_app(**overrides)
        return configured, configured.extensions["moderation"].store.create_key("client", "site")[1]

    return _make


def check(site: akismet.SyncClient, content: str, **extra: Any) -> akismet.CheckResponse:
    fields = {**author(), **extra}
    return site.comment_check(
        fields.pop("user_ip"), comment_content=content, comment_type="comment", **fields
    )


def post(client, path: str, key: str | None, **form: str):
    """POST a raw Akismet form, with the key in the api_key field when given."""
    data = {"blog": BLOG, **({"api_key": key} if key else {}), **form}
    return client.post(f"/1.1/{path}", data=data)


def stored_comments(app) -> list[Comment]:
    with app.extensions["moderation"].store.sessions() as session:
        return list(session.scalars(select(Comment).order_by(Comment.created_at)))


def stored_labels(app) -> list[Label]:
    with app.extensions["moderation"].store.sessions() as session:
        return list(session.scalars(select(Label).order_by(Label.id)))


# --- with the real akismet client ---------------------------------------------------------------


def test_verify_key_is_valid_for_a_client_key_and_invalid_otherwise(app, keys, site):
    assert site.verify_key() is True
    with sync_client(app, keys["client"]) as verified:  # the context manager verifies the key on entry
        assert verified.verify_key() is True
    assert sync_client(app, "mk_unknown_notakey").verify_key() is False
    with pytest.raises(akismet.APIKeyError), sync_client(app, "mk_unknown_notakey"):
        pass
    assert sync_client(app, keys["moderator"]).verify_key() is False


def test_clean_comment_is_ham_and_stored_before_the_answer(app, site):
    assert check(site, CLEAN) == akismet.CheckResponse.HAM
    [stored] = stored_comments(app)
    assert (stored.decision, stored.reason_code, stored.text) == ("approve", "clean", CLEAN)
    assert stored.post_id == BLOG


def test_obvious_spam_is_spam_with_the_discard_tip(site):
    assert check(site, SPAM) == akismet.CheckResponse.DISCARD


@pytest.mark.parametrize(
    ("overrides", "content", "answer", "decision", "code"),
    [
        (
            {"watched_terms": "referendum"},
            "When is the referendum?",
            akismet.CheckResponse.SPAM,
            "hold",
            "watched_term",
        ),
        (
            {"blocked_terms": "casino"},
            "Try the best CASINO bonus.",
            akismet.CheckResponse.DISCARD,
            "reject",
            "blocked_term",
        ),
        ({"spam_hold": 0.0, "toxicity_hold": 0.0}, CLEAN, akismet.CheckResponse.SPAM, "hold", "uncertain"),
    ],
)
def test_hold_is_spam_without_discard_and_sure_rejects_discard(
    keyed_app, overrides, content, answer, decision, code
):
    configured, key = keyed_app(**overrides)
    assert check(sync_client(configured, key), content) == answer
    [stored] = stored_comments(configured)
    assert (stored.decision, stored.reason_code) == (decision, code)


def test_duplicate_is_spam_but_not_discarded(keyed_app):
    configured, key = keyed_app(flood_seconds=0)
    site = sync_client(configured, key)
    who = author()
    ip = who.pop("user_ip")
    assert site.comment_check(ip, comment_content=CLEAN, **who) == akismet.CheckResponse.HAM
    assert site.comment_check(ip, comment_content=CLEAN, **who) == akismet.CheckResponse.SPAM
    assert stored_comments(configured)[1].reason_code == "duplicate"


def test_submit_spam_labels_the_checked_comment(app, site):
    who = author()
    ip = who.pop("user_ip")
    assert site.comment_check(ip, comment_content=CLEAN, **who) == akismet.CheckResponse.HAM
    assert site.submit_spam(ip, comment_content=CLEAN, **who) is True
    [stored] = stored_comments(app)
    [label] = stored_labels(app)
    assert (label.comment_id, label.label, label.source, label.text) == (
        stored.id,
        "spam",
        "cms_feedback",
        CLEAN,
    )


def test_submit_ham_after_spam_is_the_label_training_uses(app, site):
    who = author()
    ip = who.pop("user_ip")
    site.comment_check(ip, comment_content=SPAM, **who)
    assert site.submit_spam(ip, comment_content=SPAM, **who) is True
    assert site.submit_ham(ip, comment_content=SPAM, **who) is True
    labels = stored_labels(app)
    assert [row.label for row in labels] == ["spam", "ham"]
    assert len({row.comment_id for row in labels}) == 1 and labels[0].comment_id is not None
    training = list(app.extensions["moderation"].store.training_labels())
    assert [(row["text"], row["label"]) for row in training] == [(SPAM, "ham")]


def test_report_on_an_unknown_comment_keeps_the_example_alone(app, site):
    who = author()
    assert site.submit_spam(who.pop("user_ip"), comment_content="Buy cheap pills now", **who) is True
    [label] = stored_labels(app)
    assert (label.comment_id, label.label, label.text) == (None, "spam", "Buy cheap pills now")
    assert stored_comments(app) == []


def test_report_matches_only_this_clients_latest_comment_by_the_same_author(app, keys, site):
    who = author()
    ip = who.pop("user_ip")
    site.comment_check(ip, comment_content=CLEAN, **who)
    other = sync_client(app, app.extensions["moderation"].store.create_key("client", "other site")[1])
    other.submit_spam(ip, comment_content=CLEAN, **who)
    site.submit_ham(
        ip, comment_content=CLEAN, comment_author=who["comment_author"], comment_author_email="x@example.org"
    )
    assert [row.comment_id for row in stored_labels(app)] == [None, None]


def test_unknown_key_is_refused_as_akismet_refuses_it(app):
    stranger = sync_client(app, "mk_abc_def")
    with pytest.raises(akismet.APIKeyError):
        check(stranger, CLEAN)
    with pytest.raises(akismet.APIKeyError):
        stranger.submit_spam("203.0.113.9", comment_content=CLEAN)
    assert stored_comments(app) == []


def test_missing_content_is_invalid(site):
    # The client reads any `invalid` body as a key problem; the debug header says what was wrong.
    with pytest.raises(akismet.APIKeyError):
        site.comment_check("203.0.113.10", comment_author="Ann", comment_author_email="ann@example.org")


def test_is_test_comments_are_moderated_and_stored_but_test_reports_are_not_trained_on(app, site):
    who = author()
    ip = who.pop("user_ip")
    assert site.comment_check(ip, comment_content=SPAM, is_test=True, **who) == akismet.CheckResponse.DISCARD
    assert len(stored_comments(app)) == 1
    assert site.submit_spam(ip, comment_content=SPAM, is_test=True, **who) is True
    assert stored_labels(app) == []


# --- raw form posts: the exact bodies and headers ----------------------------------------------------


def test_check_answer_carries_our_decision_reason_and_comment_id(app, client, keys):
    response = post(client, "comment-check", keys["client"], comment_content=CLEAN, **author())
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "false"
    [stored] = stored_comments(app)
    assert response.headers["X-Moderation-Decision"] == "approve"
    assert response.headers["X-Moderation-Reason"] == "clean"
    assert response.headers["X-Moderation-Comment-Id"] == stored.id
    assert "X-akismet-pro-tip" not in response.headers


def test_spam_answer_is_true_with_discard(client, keys):
    response = post(client, "comment-check", keys["client"], comment_content=SPAM, **author())
    assert response.get_data(as_text=True) == "true"
    assert response.headers["X-akismet-pro-tip"] == "discard"
    assert (response.headers["X-Moderation-Decision"], response.headers["X-Moderation-Reason"]) == (
        "reject",
        "spam",
    )


def test_key_in_a_bearer_header_is_accepted(client, keys):
    response = client.post(
        "/1.1/comment-check", data={"comment_content": CLEAN, **author()}, headers=auth(keys["client"])
    )
    assert response.get_data(as_text=True) == "false"
    verify = client.post("/1.1/verify-key", data={"blog": BLOG}, headers=auth(keys["client"]))
    assert verify.get_data(as_text=True) == "valid"


def test_unknown_revoked_or_missing_key_answers_invalid_with_help(app, client, keys):
    store = app.extensions["moderation"].store
    revoked = store.create_key("client", "gone")
    store.revoke_key(revoked[0].prefix)
    for key in ("mk_nope_nope", revoked[1], keys["moderator"], None):
        response = post(client, "comment-check", key, comment_content=CLEAN, **author())
        assert response.status_code == 200
        assert response.get_data(as_text=True) == "invalid"
        assert "API key" in response.headers["X-akismet-debug-help"]
    assert post(client, "verify-key", "mk_nope_nope").get_data(as_text=True) == "invalid"
    assert stored_comments(app) == []


INVALID_FORMS = [
    ({"comment_author": "Ann", "comment_author_email": "ann@example.org"}, "comment_content"),
    ({"comment_content": "   ", "comment_author": "Ann"}, "comment_content"),
    ({"comment_content": CLEAN, "comment_author_email": "not-an-address"}, "comment_author_email"),
    ({"comment_content": CLEAN, "user_ip": "999.1.1.1"}, "user_ip"),
    ({"comment_content": "nul \x00 byte", "comment_author": "Ann"}, "comment_content"),
    ({"comment_content": CLEAN, "comment_author": "x" * 101}, "comment_author"),
]


def test_invalid_request_answers_invalid_naming_the_field(app, client, keys):
    for form, named in INVALID_FORMS:
        response = post(client, "comment-check", keys["client"], **form)
        assert response.status_code == 200
        assert response.get_data(as_text=True) == "invalid"
        assert named in response.headers["X-akismet-debug-help"], form
        feedback = post(client, "submit-spam", keys["client"], **form)
        assert feedback.get_data(as_text=True) == "invalid"
    assert stored_comments(app) == [] and stored_labels(app) == []


def test_honeypot_field_named_by_the_caller_is_honoured(app, client, keys):
    trap = {"honeypot_field_name": "hp_website_2", "comment_content": CLEAN}
    filled = post(
        client, "comment-check", keys["client"], hp_website_2="http://spam.example", **trap, **author()
    )
    assert filled.get_data(as_text=True) == "true"
    assert filled.headers["X-Moderation-Reason"] == "honeypot"
    assert filled.headers["X-akismet-pro-tip"] == "discard"
    empty = post(client, "comment-check", keys["client"], hp_website_2="", **trap, **author())
    assert empty.get_data(as_text=True) == "false"


def test_feedback_answers_thanks(app, client, keys):
    for path in ("submit-spam", "submit-ham"):
        response = post(client, path, keys["client"], comment_content=CLEAN, **author())
        assert response.get_data(as_text=True) == "Thanks for making the web a better place."
    assert [row.label for row in stored_labels(app)] == ["spam", "ham"]


def test_author_without_email_gets_a_placeholder_per_name_and_ip(app, client, keys):
    for name, ip in (("Ann", "203.0.113.20"), ("Bo", "203.0.113.21")):
        response = post(
            client, "comment-check", keys["client"], comment_content=CLEAN, comment_author=name, user_ip=ip
        )
        assert response.get_data(as_text=True) == "false"  # no flood or duplicate between the two
    emails = [row.email for row in stored_comments(app)]
    assert len(set(emails)) == 2 and all(e.endswith("@akismet.invalid") for e in emails)
    thanks = post(
        client, "submit-spam", keys["client"], comment_content=CLEAN, comment_author="Bo", user_ip=ip
    )
    assert thanks.get_data(as_text=True) == "Thanks for making the web a better place."
    assert stored_labels(app)[0].comment_id == stored_comments(app)[1].id


def test_recheck_with_the_comment_date_returns_the_stored_answer(app, client, keys):
    form = {"comment_content": CLEAN, "comment_date_gmt": "2026-11-26T23:40:02Z", **author()}
    first = post(client, "comment-check", keys["client"], **form)
    again = post(client, "comment-check", keys["client"], recheck_reason="edit", **form)
    assert first.get_data(as_text=True) == again.get_data(as_text=True) == "false"
    assert first.headers["X-Moderation-Comment-Id"] == again.headers["X-Moderation-Comment-Id"]
    assert len(stored_comments(app)) == 1


def test_context_fields_map_onto_the_stored_comment(app, client, keys):
    post(
        client,
        "comment-check",
        keys["client"],
        comment_content=CLEAN,
        comment_author_url="reader.example",
        permalink="https://news.example/2026/frigates",
        comment_parent="0",
        user_agent="Mozilla/5.0 " + "x" * 2000,
        referrer="https://news.example/",
        blog_lang="en",
        user_role="subscriber",
        **author(),
    )
    [stored] = stored_comments(app)
    assert stored.url == "http://reader.example"
    assert stored.post_id == "https://news.example/2026/frigates"
    assert stored.post_url == "https://news.example/2026/frigates"
    assert stored.parent_id is None
    assert stored.user_agent.startswith("Mozilla/5.0") and len(stored.user_agent) == 1000


@pytest.mark.parametrize(
    "permalink", ["javascript:alert(1)", "news.example/no-scheme", "https://x/" + "a" * 2100]
)
def test_a_permalink_that_is_not_a_web_address_is_kept_as_post_id_only(app, client, keys, permalink):
    response = post(
        client, "comment-check", keys["client"], comment_content=CLEAN, permalink=permalink, **author()
    )
    assert response.get_data(as_text=True) == "false"  # checked, not refused as invalid
    [stored] = stored_comments(app)
    assert stored.post_url is None
    assert stored.post_id == permalink[:200]


def test_rate_limits_let_akismet_posts_through(keyed_app):
    limited, key = keyed_app(rate_limit="600/minute")
    client = limited.test_client()
    assert post(client, "verify-key", key).get_data(as_text=True) == "valid"
    response = post(client, "comment-check", key, comment_content=CLEAN, **author())
    assert response.status_code == 200 and response.get_data(as_text=True) == "false"
    assert "X-RateLimit-Limit" in response.headers
