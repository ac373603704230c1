"""The moderators' review page through Flask's test client: sign-in, CSRF, reviews, undo, escaping."""

from __future__ import annotations

import re

import pytest

from moderation.web.highlight import MARK_NAMES, evidence_terms, highlight, links_in, openable
from moderation.web.security import SECURITY_HEADERS
from tests.helpers import HOSTILE, auth, sign_in, status_of, token


@pytest.fixture
def app_config(app_config):
    # Hold rather than reject borderline scores, and watch a term that appears in the hostile comment.
    app_config.update(spam_reject=1.0, toxicity_reject=1.0, watched_terms="alert")
    return app_config


@pytest.fixture
def held(submit) -> str:
    """The id of a held comment (a form filled in too fast)."""
    response = submit(elapsed_ms=100, post_id="311")
    assert response.json["decision"] == "hold", response.json
    return response.json["id"]


def test_moderator_key_signs_in_and_session_keeps_no_key(client, keys):
    response = sign_in(client, keys["moderator"])
    assert response.status_code == 303 and response.headers["Location"].endswith("/moderate/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with client.session_transaction() as session:
        # The cookie names no key, role or name: only the server-side session's token and CSRF token.
        assert set(session) == {"sid", "csrf_token"}
        assert keys["moderator"] not in repr(dict(session))
    assert client.get("/moderate/").status_code == 200


def test_admin_key_signs_in(client, keys):
    assert sign_in(client, keys["admin"]).status_code == 303
    assert client.get("/moderate/").status_code == 200


def test_session_cookie_is_secure_over_https(client, keys):
    response = client.post(
        "/moderate/login",
        data={"key": keys["moderator"], "csrf_token": token(client)},
        base_url="https://localhost",
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_client_key_is_refused(client, keys):
    response = sign_in(client, keys["client"])
    assert response.status_code == 403 and "moderator key" in response.get_data(as_text=True)
    assert client.get("/moderate/").status_code == 303


def test_wrong_key_is_refused(client, keys):
    assert sign_in(client, "mod_nope_nope").status_code == 401
    assert sign_in(client, keys["moderator"] + "x").status_code == 401
    assert client.get("/moderate/").status_code == 303


def test_unauthenticated_queue_redirects_to_login(client):
    response = client.get("/moderate/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/moderate/login")


def test_revoked_key_ends_the_session_and_says_why(app, moderator, keys):
    prefix = keys["moderator"].split("_")[1]
    assert app.extensions["moderation"].store.revoke_key(prefix)
    response = moderator.get("/moderate/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/moderate/login")
    html = moderator.get("/moderate/login").get_data(as_text=True)
    assert "signed out because your key was revoked" in html
    assert moderator.get("/moderate/").status_code == 303


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "signed in, the client holds a session cookie"
    return cookie.value


def replay(app, cookie: str):
    """A second browser that presents a copy of the cookie: GET the queue, do not follow redirects."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/moderate/")


def test_sign_out_refuses_a_copied_cookie(app, moderator):
    copied = session_cookie(moderator)
    assert replay(app, copied).status_code == 200  # the copy works while the session is live
    response = moderator.post("/moderate/logout", data={"csrf_token": token(moderator, "/moderate/")})
    assert response.status_code == 303 and response.headers["Location"].endswith("/moderate/login")
    refused = replay(app, copied)
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/moderate/login")


def test_signing_in_again_ends_the_previous_session(app, client, keys):
    assert sign_in(client, keys["moderator"]).status_code == 303
    first = session_cookie(client)
    again = {"key": keys["moderator"], "csrf_token": token(client, "/moderate/")}
    assert client.post("/moderate/login", data=again).status_code == 303
    assert session_cookie(client) != first
    assert replay(app, first).status_code == 303
    assert client.get("/moderate/").status_code == 200


def test_an_expired_session_is_refused_with_a_message(app, moderator):
    from sqlalchemy import update

    from moderation.store.repository import utcnow
    from moderation.store.tables import WebSession

    copied = session_cookie(moderator)
    with app.extensions["moderation"].store.engine.begin() as connection:
        connection.execute(update(WebSession).values(expires_at=utcnow()))
    response = moderator.get("/moderate/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/moderate/login")
    assert "sessions last 12 hours" in moderator.get("/moderate/login").get_data(as_text=True)
    assert replay(app, copied).status_code == 303


def test_purge_removes_ended_and_expired_sessions_and_keeps_live_ones(app, client, keys):
    from datetime import timedelta

    from sqlalchemy import func, select

    from moderation.store.repository import purge, utcnow
    from moderation.store.tables import WebSession

    store = app.extensions["moderation"].store
    assert sign_in(client, keys["moderator"]).status_code == 303
    ended = session_cookie(client)
    client.post("/moderate/logout", data={"csrf_token": token(client, "/moderate/")})
    assert sign_in(client, keys["moderator"]).status_code == 303
    counts = purge(store, utcnow() - timedelta(days=30))
    assert counts["web_sessions"] == 1
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(WebSession)).scalar() == 1
    assert client.get("/moderate/").status_code == 200
    assert replay(app, ended).status_code == 303
    assert purge(store, utcnow() - timedelta(days=30))["web_sessions"] == 0


def test_sign_out_needs_csrf_and_ends_the_session(moderator):
    assert moderator.post("/moderate/logout").status_code == 400
    assert moderator.get("/moderate/").status_code == 200
    response = moderator.post("/moderate/logout", data={"csrf_token": token(moderator, "/moderate/")})
    assert response.status_code == 303
    assert moderator.get("/moderate/").status_code == 303


def test_login_without_csrf_token_is_refused(client, keys):
    client.get("/moderate/login")
    assert client.post("/moderate/login", data={"key": keys["moderator"]}).status_code == 400
    assert client.get("/moderate/").status_code == 303


def test_post_without_or_with_wrong_csrf_token_is_refused_and_comment_stays_held(moderator, keys, held):
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": "é" * 10}):
        response = moderator.post("/moderate/review", data={"id": held, "label": "ham", **data})
        assert response.status_code == 400
    assert status_of(moderator, keys, held) == "held"


def test_held_comment_is_listed_with_buttons_scores_history_and_counts(moderator, held):
    html = moderator.get("/moderate/").get_data(as_text=True)
    assert f'id="c-{held}"' in html
    assert 'value="ham"' in html and 'value="spam"' in html and 'value="toxic"' in html
    assert "<meter" in html and "This email" in html and "1 held" in html
    assert "Typed too fast <b>1</b>" in html
    assert html.count('name="csrf_token"') >= 3  # sign-out, bulk and verdict forms


def test_approve_via_form_changes_status_and_writes_audit(app, moderator, keys, held):
    response = moderator.post(
        "/moderate/review",
        data={
            "id": held,
            "label": "ham",
            "csrf_token": token(moderator, "/moderate/"),
            "back": "post_id=311",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/moderate/?post_id=311")
    assert status_of(moderator, keys, held) == "approved"
    audit = app.extensions["moderation"].queue.audit(held)
    assert [(a["action"], a["label"], a["by"]) for a in audit] == [("approve", "ham", "test moderator")]
    page = moderator.get("/moderate/").get_data(as_text=True)
    assert (
        f'id="c-{held}"' not in page and "Approved: 1 comment." in page and 'action="/moderate/undo"' in page
    )


def test_back_cannot_redirect_elsewhere(moderator, held):
    response = moderator.post(
        "/moderate/review",
        data={
            "id": held,
            "label": "spam",
            "csrf_token": token(moderator, "/moderate/"),
            "back": "//evil.example",
        },
    )
    assert response.headers["Location"].endswith("/moderate/")


def test_bulk_reject_and_undo_restores_every_comment(app, moderator, keys, submit):
    ids = [submit(elapsed_ms=100).json["id"] for _ in range(3)]
    csrf = token(moderator, "/moderate/")
    moderator.post("/moderate/review", data={"id": ids[:2], "label": "spam", "csrf_token": csrf})
    assert [status_of(moderator, keys, i) for i in ids] == ["rejected", "rejected", "held"]
    response = moderator.post("/moderate/undo", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert [status_of(moderator, keys, i) for i in ids] == ["held", "held", "held"]
    assert [a["action"] for a in app.extensions["moderation"].queue.audit(ids[0])] == ["reject", "undo"]
    page = moderator.get("/moderate/").get_data(as_text=True)
    # Nothing left to undo: the undo form is drawn hidden (the script shows it after an in-place action).
    assert "back in the queue" in page and re.search(r'<form class="notice ok undo"[^>]* hidden>', page)


def test_undo_with_nothing_to_undo_says_so(moderator):
    moderator.post("/moderate/undo", data={"csrf_token": token(moderator, "/moderate/")})
    assert "Nothing to undo" in moderator.get("/moderate/").get_data(as_text=True)


def test_concurrent_review_shows_a_friendly_message(client, moderator, keys, held):
    other = client.post(
        f"/v1/comments/{held}/review", json={"action": "reject", "label": "spam"}, headers=auth(keys["admin"])
    )
    assert other.status_code == 200
    moderator.post(
        "/moderate/review", data={"id": held, "label": "ham", "csrf_token": token(moderator, "/moderate/")}
    )
    assert "Someone else reviewed this comment first" in moderator.get("/moderate/").get_data(as_text=True)
    assert status_of(moderator, keys, held) == "rejected"


def test_filters_and_bad_values(moderator, submit, held):
    other = submit(elapsed_ms=100, post_id="999").json["id"]
    page = moderator.get("/moderate/?post_id=311").get_data(as_text=True)
    assert held in page and other not in page
    assert "Minimum score must be" in moderator.get("/moderate/?min_score=2").get_data(as_text=True)
    assert "expired" in moderator.get("/moderate/?cursor=%%%").get_data(as_text=True)


def test_next_page_link_follows_the_cursor(moderator, submit, monkeypatch):
    monkeypatch.setattr("moderation.web.views.PAGE_SIZE", 1)
    first, second = (submit(elapsed_ms=100).json["id"] for _ in range(2))
    page = moderator.get("/moderate/").get_data(as_text=True)
    assert first in page and second not in page
    next_url = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    assert second in moderator.get(next_url).get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/moderate/", "/moderate/login", "/moderate/static/moderate.js", "/moderate/nope"]
)
def test_security_headers_on_every_moderate_response(client, path):
    with client.get(path) as response:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


def test_hostile_comment_is_escaped_and_highlight_stays_escaped(moderator, submit):
    response = submit(
        name="<img src=x onerror=alert(1)>",
        text=HOSTILE,
        url="https://example.org/?q=<script>alert(1)</script>",
        elapsed_ms=100,
    )
    assert response.json["decision"] == "hold", response.json
    html = moderator.get("/moderate/").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and '<a href="javascript' not in html
    watched = mark("watched", "alert")
    assert "&lt;script&gt;<mark" in html and f"{watched}(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html and f"=&#34;javascript:{watched}" in html
    assert 'href="javascript:' not in html
    assert 'rel="noopener noreferrer nofollow"' in html  # the author's https URL can be opened on purpose


def test_bidi_controls_are_shown_as_markers_and_user_text_is_isolated(app, moderator, submit):
    from sqlalchemy import update

    from moderation.store.tables import Comment

    text = "Invoice attached: photo_\u202egnp.exe and \u2067<b>note</b>\u2069 done"
    response = submit(text=text, elapsed_ms=100)
    assert response.json.get("decision") == "hold", response.json
    comment_id = response.json["id"]
    # The API refuses such names, but rows stored before that rule (or by other paths) may hold one.
    with app.extensions["moderation"].store.engine.begin() as connection:
        connection.execute(update(Comment).where(Comment.id == comment_id).values(name="Ann\u202e nimda"))
    html = moderator.get("/moderate/").get_data(as_text=True)
    card = html.split(f'id="c-{comment_id}"', 1)[1].split("</li>", 1)[0]
    marker = '<span class="bidi-control">\u27e8{}\u27e9</span>'
    assert f"photo_{marker.format('RLO')}gnp.exe" in card
    assert f"{marker.format('RLI')}&lt;b&gt;note&lt;/b&gt;{marker.format('PDI')}" in card
    # The author's name is the link that opens the author drawer; the name inside it is isolated too.
    assert re.search(
        r'<a class="author author-link" href="[^"]*"[^>]*>'
        + re.escape(f"<bdi>Ann{marker.format('RLO')} nimda</bdi></a>"),
        card,
    )
    assert '<p class="text"><bdi>' in card
    for control in ("\u202e", "\u2067", "\u2069"):
        assert control not in card, "no bidi control reaches the page unshown"
    from moderation.web.highlight import show_bidi_controls

    assert show_bidi_controls("a\u200fb") == 'a<span class="bidi-control">\u27e8RLM\u27e9</span>b'
    assert show_bidi_controls("<i>\u202d") == '&lt;i&gt;<span class="bidi-control">\u27e8LRO\u27e9</span>'


def test_stored_text_keeps_the_bidi_controls(app, moderator, submit):
    """The markers are display only: the text is stored (and sent on) as the commenter wrote it."""
    text = "photo_\u202egnp.exe"
    comment_id = submit(text=text, elapsed_ms=100).json["id"]
    assert app.extensions["moderation"].store.get_comment(comment_id).text == text
    assert "\u27e8RLO\u27e9" in moderator.get("/moderate/").get_data(as_text=True)


def test_long_comments_are_collapsed_with_show_all_and_short_ones_are_not(moderator, submit):
    long_text = ("Procurement delays again. " * 60)[:1299] + "!"
    long_id = submit(text=long_text, elapsed_ms=100).json["id"]
    lines_id = submit(text="\n".join(f"line {n}" for n in range(25)), elapsed_ms=100).json["id"]
    short_id = submit(text="Short and clear.", elapsed_ms=100).json["id"]
    html = moderator.get("/moderate/").get_data(as_text=True)

    def card(comment_id: str) -> str:
        return html.split(f'id="c-{comment_id}"', 1)[1].split("</li>", 1)[0]

    assert '<p class="text long">' in card(long_id)
    assert '<details class="show-all"><summary><span class="more">Show all (1,300 characters)' in card(
        long_id
    )
    assert '<p class="text long">' in card(lines_id) and "show-all" in card(lines_id)
    assert '<p class="text">' in card(short_id) and "show-all" not in card(short_id)
    assert long_text in card(long_id), "the whole text is on the page, only cut by CSS"


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/moderate/", "Pending comments"),
        ("/moderate/?view=rejected", "Rejected comments"),
        ("/moderate/?view=all", "All comments"),
    ],
)
def test_every_page_has_one_h1(moderator, path, heading):
    html = moderator.get(path).get_data(as_text=True)
    assert len(re.findall(r"<h1[ >]", html)) == 1
    assert heading in re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)


def test_the_sign_in_and_error_pages_have_one_h1(app, moderator):
    html = app.test_client().get("/moderate/login").get_data(as_text=True)
    assert len(re.findall(r"<h1[ >]", html)) == 1 and "Sign in" in html
    refused = moderator.post("/moderate/review", data={"id": "x", "label": "ham"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert len(re.findall(r"<h1[ >]", html)) == 1 and "400" in html


def test_verdict_buttons_are_named_with_the_author_they_act_on(moderator, submit):
    comment_id = submit(name='Ann "the" <Critic>', elapsed_ms=100).json["id"]
    html = moderator.get("/moderate/").get_data(as_text=True)
    card = html.split(f'id="c-{comment_id}"', 1)[1].split("\n</li>", 1)[0]
    author = "Ann &#34;the&#34; &lt;Critic&gt;"
    for label in (
        f"Approve the comment by {author}",
        f"Spam: reject the comment by {author}",
        f"Toxic: reject the comment by {author}",
        f"Reject with this reason: the comment by {author}",
        f"Select comment by {author}",
    ):
        assert f'aria-label="{label}"' in card
    assert 'aria-label="Approve the selected comments"' in html


def mark(css: str, text: str) -> str:
    """A highlight as the page writes it: the class, and its meaning as a title and hidden text."""
    name = MARK_NAMES[css]
    return f'<mark class="{css}" title="{name}">{text}<span class="visually-hidden"> ({name})</span></mark>'


def test_highlight_escapes_first_and_never_cuts_an_entity():
    marked = highlight('<b>lt</b> & amp "quot" x', {"lt": "spam", "amp": "spam", "quot": "toxic"})
    assert str(marked) == (
        f"&lt;b&gt;{mark('spam', 'lt')}&lt;/b&gt; &amp; {mark('spam', 'amp')} "
        f"&#34;{mark('toxic', 'quot')}&#34; x"
    )
    assert str(highlight("<script>", {"<script>": "spam"})) == "&lt;script&gt;"
    assert str(highlight("Free  Money now", {"free money": "spam"})) == f"{mark('spam', 'Free  Money')} now"


@pytest.mark.parametrize(
    ("text", "term", "css", "expected"),
    [
        # Folded spellings are marked where they stand, in the commenter's own letters.
        ("Call a (C3asefire)! now", "ceasefire", "blocked", f"Call a ({mark('blocked', 'C3asefire')})! now"),
        ("a c3asefire-now deal", "ceasefire", "blocked", f"a {mark('blocked', 'c3asefire')}-now deal"),
        ("you f u c k.", "fuck", "blocked", f"you {mark('blocked', 'f u c k')}."),
        ("an i-d-i-0-t", "idiot", "toxic", f"an {mark('toxic', 'i-d-i-0-t')}"),
        (
            "ca/sino, caaasino",
            "casino",
            "watched",
            f"{mark('watched', 'ca/sino')}, {mark('watched', 'caaasino')}",
        ),
        ("get fr33  m0ney", "free money", "spam", f"get {mark('spam', 'fr33  m0ney')}"),
        ("ｃａｓｉｎｏ night", "casino", "watched", f"{mark('watched', 'ｃａｓｉｎｏ')} night"),
        # Every match in a chunk, also in a long punctuated one.
        (
            "alert(1)</script>alert",
            "alert",
            "watched",
            f"{mark('watched', 'alert')}(1)&lt;/script&gt;{mark('watched', 'alert')}",
        ),
        ("c," * 80 + "c4sino", "casino", "watched", "c," * 80 + mark("watched", "c4sino")),
        # Whole words only, and hostile text stays escaped around and inside a mark.
        ("ceasefires are fine", "ceasefire", "blocked", "ceasefires are fine"),
        ("<i>sh1t</i>", "shit", "toxic", f"&lt;i&gt;{mark('toxic', 'sh1t')}&lt;/i&gt;"),
        ('"><script>c4sino', "casino", "watched", f"&#34;&gt;&lt;script&gt;{mark('watched', 'c4sino')}"),
    ],
)
def test_a_disguised_term_is_marked_at_its_original_span(text, term, css, expected):
    assert str(highlight(text, {term: css})) == expected


def test_evidence_terms_keep_words_and_signal_terms_only():
    evidence = {
        "signals": {"watched_term": {"terms": ["casino"]}, "links": {"links": 2}},
        "terms": {
            "spam": [
                {"term": "bonus", "kind": "word"},
                {"term": "ple ", "kind": "char"},
                {"term": "a", "kind": "word"},
            ],
            "toxicity": [
                {"term": "structure:lexicon_insult", "kind": "structure"},
                {"term": "idiot", "kind": "word"},
            ],
        },
    }
    assert evidence_terms(evidence) == {"casino": "watched", "bonus": "spam", "idiot": "toxic"}
    assert evidence_terms({}) == {}
    low_spam = evidence_terms(evidence, {"spam": 0.2, "toxicity": 0.7}, {"spam": 0.5, "toxicity": 0.5})
    assert low_spam == {"casino": "watched", "idiot": "toxic"}


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (["the", "of a", "is a", "you are"], {}),  # function words alone are never evidence
        (["the idiot", "you moron"], {"idiot": "toxic", "moron": "toxic"}),  # the content words
        (["son of a", "dirty rat"], {"son": "toxic", "dirty rat": "toxic"}),
    ],
)
def test_function_words_are_never_evidence(terms, expected):
    evidence = {"terms": {"toxicity": [{"term": term, "kind": "word"} for term in terms]}}
    assert evidence_terms(evidence) == expected


def test_words_behind_a_word_list_count_are_evidence_and_weak_terms_are_not():
    evidence = {
        "terms": {
            "toxicity": [
                {"term": "structure:lexicon_insult", "kind": "structure", "weight": 3.0},
                {"term": "idiot", "kind": "listed", "weight": 3.0, "feature": "structure:lexicon_insult"},
                {"term": "scum", "kind": "word", "weight": 0.9},
                {"term": "minister", "kind": "word", "weight": 0.2},  # under a tenth of 3.0
            ]
        }
    }
    assert evidence_terms(evidence) == {"idiot": "toxic", "scum": "toxic"}


def test_the_model_names_the_listed_words_behind_its_counts(app):
    """The real model explains an insult by its word-list count; the listed words come with it."""
    bundle = app.extensions["moderation"].models.get()
    analysis = bundle.analyze("Anyone who still believes this minister is an idiot. Pathetic reporting.")
    toxicity = analysis.explain()["toxicity"]
    listed = {entry["term"] for entry in toxicity if entry["kind"] == "listed"}
    assert {"idiot", "pathetic"} <= listed
    assert all(entry["feature"].startswith("structure:") for entry in toxicity if entry["kind"] == "listed")
    assert {"idiot", "pathetic"} <= set(evidence_terms({"terms": {"toxicity": toxicity}}))


def test_only_http_links_are_openable():
    assert openable("https://example.org/x") and not openable("javascript:alert(1)")
    assert not openable("data:text/html,<script>") and not openable(None)
    assert links_in("see https://a.example/x, and javascript:alert(1) or http://b.example.") == [
        "https://a.example/x",
        "http://b.example",
    ]


# --- views, changed decisions, reasons and reports (issue 13) ----------------------------------


def test_views_have_counts_under_the_filters_and_keep_them_in_their_links(moderator, keys, submit, held):
    submit(elapsed_ms=100, post_id="999")
    approved = submit(post_id="311").json
    assert approved["decision"] == "approve"
    html = moderator.get("/moderate/?post_id=311").get_data(as_text=True)
    assert "Pending <b>1</b>" in html and "Unmoderated <b>1</b>" in html and "All <b>2</b>" in html
    assert 'href="/moderate/?post_id=311&amp;view=rejected"' in html
    unmoderated = moderator.get("/moderate/?view=unmoderated&post_id=311").get_data(as_text=True)
    assert f'id="c-{approved["id"]}"' in unmoderated and held not in unmoderated
    assert "by the service, not yet seen by a moderator" in unmoderated
    assert f'name="seen" value="{approved["id"]}:approved"' in unmoderated
    assert '<input type="hidden" name="view" value="unmoderated">' in unmoderated  # the filter form keeps it
    assert "Unknown view" in moderator.get("/moderate/?view=nope").get_data(as_text=True)


def test_a_rejection_is_changed_from_the_rejected_view_and_audited(app, moderator, keys, held):
    csrf = token(moderator, "/moderate/")
    moderator.post("/moderate/review", data={"id": held, "label": "spam", "csrf_token": csrf})
    assert status_of(moderator, keys, held) == "rejected"
    page = moderator.get("/moderate/?view=rejected").get_data(as_text=True)
    assert f'id="c-{held}"' in page and "Rejected</span> by test moderator" in page and "reason: Spam" in page
    response = moderator.post(
        "/moderate/review",
        data={"id": held, "label": "ham", "seen": f"{held}:rejected", "note": "not spam after all",
              "csrf_token": csrf, "back": "view=rejected"},
    )  # fmt: skip
    assert response.headers["Location"].endswith("/moderate/?view=rejected")
    assert status_of(moderator, keys, held) == "approved"
    audit = app.extensions["moderation"].queue.audit(held)
    assert [(a["action"], a["from_status"], a["to_status"], a["note"]) for a in audit] == [
        ("reject", "held", "rejected", None),
        ("approve", "rejected", "approved", "not spam after all"),
    ]
    # A page that still showed "rejected" cannot overwrite the change unseen.
    stale = {"id": held, "label": "spam", "seen": f"{held}:rejected", "csrf_token": csrf}
    moderator.post("/moderate/review", data=stale)
    assert "Someone else reviewed this comment first" in moderator.get("/moderate/").get_data(as_text=True)
    assert status_of(moderator, keys, held) == "approved"
    # Undoing the change puts back the rejection, not the queue.
    moderator.post("/moderate/undo", data={"csrf_token": csrf})
    assert status_of(moderator, keys, held) == "rejected"
    assert "back as they were before" in moderator.get("/moderate/").get_data(as_text=True)


def test_reject_with_a_reason_and_note_from_the_form(app, client, moderator, keys, held):
    csrf = token(moderator, "/moderate/")
    base = {"id": held, "label": "reject", "csrf_token": csrf}
    moderator.post("/moderate/review", data=base)
    assert "Choose a reason" in moderator.get("/moderate/").get_data(as_text=True)
    moderator.post("/moderate/review", data={**base, "reason": "other"})
    assert "Say why in the note" in moderator.get("/moderate/").get_data(as_text=True)
    assert status_of(moderator, keys, held) == "held"
    note = "<b>phone number</b> in the text"
    moderator.post("/moderate/review", data={**base, "reason": "personal_info", "note": note})
    state = client.get(f"/v1/comments/{held}", headers=auth(keys["client"])).json
    assert state["status"] == "rejected" and state["review"]["reason"]["code"] == "personal_info"
    page = moderator.get("/moderate/?view=rejected").get_data(as_text=True)
    assert "Rejected (personal information): 1 comment." in page
    assert "reason: Personal information" in page and "&lt;b&gt;phone number&lt;/b&gt;" in page
    assert "<b>phone number</b>" not in page


def test_reported_view_shows_the_reports_escaped(client, moderator, keys, submit):
    comment_id = submit().json["id"]
    for reporter, reason, text in (
        ("reader-x71", "abusive", '<img src=x onerror=alert(1)> "rude"'),
        ("reader-x72", "spam", None),
    ):
        body = {"reporter": reporter, "reason": reason, "text": text}
        response = client.post(f"/v1/comments/{comment_id}/reports", json=body, headers=auth(keys["client"]))
        assert response.status_code == 201
    html = moderator.get("/moderate/?view=reported").get_data(as_text=True)
    assert f'id="c-{comment_id}"' in html and "Reported <b>1</b>" in html
    assert "2 open reports" in html and "Abusive 1" in html and "Spam 1" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "reader-x7" not in html  # moderators never see who reported
    # Keeping it published resolves the reports: the Reported view empties.
    moderator.post(
        "/moderate/review",
        data={"id": comment_id, "label": "ham", "seen": f"{comment_id}:approved",
              "csrf_token": token(moderator, "/moderate/")},
    )  # fmt: skip
    html = moderator.get("/moderate/?view=reported").get_data(as_text=True)
    assert "Reported <b>0</b>" in html and f'id="c-{comment_id}"' not in html
    assert "No comments in this view." in html


HOSTILE_TITLE = '<script>alert("title")</script> Frigates "late" again'


def test_card_links_the_post_title_escaped_and_only_to_web_addresses(app, moderator, submit):
    linked = submit(
        elapsed_ms=100,
        post_id="311",
        post_title=HOSTILE_TITLE,
        post_url="https://news.example/frigates?a=1&b=2",
    ).json
    assert linked["decision"] == "hold", linked
    unlinked = submit(elapsed_ms=100, post_id="312", post_title="Harbour dues").json
    # The API refuses a javascript: post_url; one stored all the same must still not become a link.
    from sqlalchemy import update

    from moderation.store.tables import Comment

    with app.extensions["moderation"].store.sessions() as session, session.begin():
        session.execute(
            update(Comment).where(Comment.id == unlinked["id"]).values(post_url="javascript:alert(1)")
        )
    html = moderator.get("/moderate/").get_data(as_text=True)
    assert "<script>alert" not in html and "javascript:alert" not in html
    assert (
        '<a class="post-link" href="https://news.example/frigates?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer nofollow"><bdi>&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; '
        "Frigates &#34;late&#34; again</bdi></a>"
    ) in html
    assert '<span class="post-title"><bdi>Harbour dues</bdi></span>' in html
    assert html.count('class="post-link"') == 1
    assert 'href="/moderate/posts/311/thread"' in html and 'href="/moderate/posts/312/thread"' in html


def test_card_shows_the_parent_comment_of_the_same_site_shortened_and_escaped(app, moderator, submit, keys):
    parent_text = "<b>bold</b> claim about the frigates. " + "More words here. " * 40
    parent = submit(text=parent_text, client_comment_id="wp-1", post_id="311").json
    reply = submit(
        text="I disagree with that.", elapsed_ms=100, client_comment_id="wp-2", parent_id="wp-1"
    ).json
    assert reply["decision"] == "hold", reply
    other_key = app.extensions["moderation"].store.create_key("client", "other site")[1]
    foreign = submit(key=other_key, text="Who said so?", elapsed_ms=100, parent_id="wp-1").json
    assert foreign["decision"] == "hold", foreign
    html = moderator.get("/moderate/").get_data(as_text=True)
    cards = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<li class="comment[^"]*" id="c-(\w+)".*?</li>\n', html, re.S)
    }
    quoted = cards[reply["id"]]
    assert 'class="reply-to"' in quoted and "In reply to" in quoted
    assert "&lt;b&gt;bold&lt;/b&gt; claim about the frigates." in quoted and "<b>bold" not in quoted
    assert "…" in quoted and parent_text.strip() not in quoted  # shortened
    assert parent["id"] != reply["id"]
    # Another site's reply to ITS comment "wp-1" is not shown this site's comment as context.
    assert 'class="reply-to"' not in cards[foreign["id"]]


def test_thread_page_lists_the_post_as_a_thread_escaped(moderator, submit, client):
    first = submit(text="First <i>take</i>.", client_comment_id="t1", post_id="https://news.example/a",
                   post_title="<script>x</script>Docks", post_url="https://news.example/a").json  # fmt: skip
    reply = submit(
        text="A reply.", client_comment_id="t2", parent_id="t1", post_id="https://news.example/a"
    ).json
    response = moderator.get("/moderate/posts/https://news.example/a/thread")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;Docks" in html
    assert "First &lt;i&gt;take&lt;/i&gt;." in html
    assert html.index(f'id="t-{first["id"]}"') < html.index(f'id="t-{reply["id"]}"')
    assert f'class="thread-comment depth-1 status-{reply["status"]}" id="t-{reply["id"]}"' in html
    assert '<a class="post-link" href="https://news.example/a"' in html
    assert "<h1>" in html
    for header in SECURITY_HEADERS:
        assert header in response.headers
    assert moderator.get("/moderate/posts/unknown/thread").status_code == 404
    moderator.post("/moderate/logout", data={"csrf_token": token(moderator, "/moderate/")})
    assert moderator.get("/moderate/posts/https://news.example/a/thread").status_code == 303


# --- filters, counts, pages past the end and evidence (issue 13) -------------------------------


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="comment[^"]*" id="c-([^"]+)"', html)


def test_the_reason_filter_finds_a_comments_second_reason_on_the_page_and_in_the_api(moderator, keys, submit):
    both = submit(text="Red alert on the harbour", elapsed_ms=100).json  # watched term, then too fast
    assert [r["code"] for r in both["reasons"]] == ["watched_term", "too_fast"], both
    fast = submit(elapsed_ms=100).json["id"]
    page = moderator.get("/moderate/?reason=too_fast").get_data(as_text=True)
    assert cards(page) == [both["id"], fast]
    watched = moderator.get("/moderate/?reason=watched_term").get_data(as_text=True)
    assert cards(watched) == [both["id"]]
    # Each reason counts every comment that gives it; "All held" counts each comment once.
    assert "All held <b>2</b>" in page
    assert "Typed too fast <b>2</b>" in page and "Watched term <b>1</b>" in page
    api = moderator.get("/v1/queue?reason=too_fast", headers=auth(keys["moderator"])).json
    assert [item["id"] for item in api["items"]] == [both["id"], fast]
    assert api["counts"] == {"held": 2, "total": 2, "by_reason": {"too_fast": 2, "watched_term": 1}}
    assert api["views"]["pending"] == 2


@pytest.mark.parametrize(
    ("query", "counts"),
    [
        ("post_id=311", {"Pending": 2, "Unmoderated": 1, "Rejected": 0, "All": 3, "All held": 2}),
        ("post_id=999", {"Pending": 1, "Unmoderated": 0, "Rejected": 0, "All": 1, "All held": 1}),
        ("post_id=311&reason=watched_term", {"Pending": 1, "Unmoderated": 0, "All": 1, "All held": 2}),
        ("min_score=1", {"Pending": 0, "Unmoderated": 0, "All": 0, "All held": 0}),
    ],
)
def test_header_counts_follow_the_post_score_and_reason_filters(moderator, submit, query, counts):
    submit(text="Red alert on the harbour", elapsed_ms=100, post_id="311")
    submit(elapsed_ms=100, post_id="311")
    submit(elapsed_ms=100, post_id="999")
    assert submit(post_id="311").json["decision"] == "approve"
    page = moderator.get(f"/moderate/?{query}").get_data(as_text=True)
    header = page[page.index('<nav class="views"') : page.index("</header>")]
    found = dict((name, int(n)) for name, n in re.findall(r">([A-Z][a-z]+(?: held)?) <b>(\d+)</b>", header))
    assert {name: found[name] for name in counts} == counts


def test_a_page_past_the_end_shows_the_last_page_with_comments(moderator, submit, monkeypatch):
    monkeypatch.setattr("moderation.web.views.PAGE_SIZE", 1)
    first, second = (submit(elapsed_ms=100).json["id"] for _ in range(2))
    page = moderator.get("/moderate/").get_data(as_text=True)
    second_page = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    assert cards(moderator.get(second_page).get_data(as_text=True)) == [second]
    csrf = token(moderator, "/moderate/")
    back = second_page.partition("?")[2]
    reviewed = moderator.post(
        "/moderate/review", data={"id": second, "label": "ham", "csrf_token": csrf, "back": back}
    )
    assert reviewed.headers["Location"].endswith(second_page)
    emptied = moderator.get(second_page).get_data(as_text=True)
    assert cards(emptied) == [first] and "Nothing is waiting" not in emptied
    assert "showing the last page that has" in emptied
    # The cards' forms come back to the page shown, not to the emptied one.
    assert f'name="back" value="{back}"' not in emptied and 'name="back" value=""' in emptied
    # With the view empty, it says so.
    moderator.post("/moderate/review", data={"id": first, "label": "ham", "csrf_token": csrf, "back": back})
    assert "Nothing is waiting for review." in moderator.get(second_page).get_data(as_text=True)


def test_a_disguised_watched_term_is_marked_where_it_stands_and_the_legend_names_every_mark(
    moderator, submit
):
    response = submit(text="Red 4lert: the <b>a-l-e-r-t</b> is on", elapsed_ms=20000)
    assert response.json["reasons"][0]["code"] == "watched_term", response.json
    page = moderator.get("/moderate/").get_data(as_text=True)
    assert f"Red {mark('watched', '4lert')}: the &lt;b&gt;{mark('watched', 'a-l-e-r-t')}&lt;/b&gt;" in page
    legend = re.search(r'<p class="legend"[^>]*>(.*?)</p>', page, re.S).group(1)
    for css, name in MARK_NAMES.items():
        assert f'<mark class="{css}">{name}</mark>' in legend


FUNCTION_WORDS_SEEN = re.compile(r'<mark class="(?:toxic|spam)"[^>]*>([^<]+)<')


def test_function_words_are_not_marked_on_the_page(moderator, submit):
    from moderation.web.highlight import FUNCTION_WORDS

    text = "You are the worst of a bunch of idiots and a stupid moron, this is a disgrace"
    response = submit(text=text, elapsed_ms=100)
    assert response.json["decision"] == "hold", response.json
    page = moderator.get("/moderate/").get_data(as_text=True)
    marked = FUNCTION_WORDS_SEEN.findall(page)
    assert marked, "a toxic comment shows its evidence"
    for words in marked:
        assert set(words.lower().split()) - FUNCTION_WORDS, words
