"""The Perspective-compatible API: protocol rules, the views, and language identification on /v1/comments."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from moderation.app import create_app
from moderation.integrations.perspective.protocol import (
    MAX_TEXT_BYTES,
    AttributeScore,
    PerspectiveError,
    analyze_response,
    parse_analyze,
    parse_suggest,
    sentence_spans,
)
from moderation.pipeline.language import identify
from moderation.store.tables import Analysis, Label
from tests.helpers import auth, comment, sign_in

ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"
CLEAN = "Thanks for the clear write-up on the new bus timetable, it helped me plan my week."
TOXIC = "You are a worthless idiot and everyone here hates your stupid face."
FRENCH = "Merci pour cet article, je ne savais pas que le pont était si vieux et si beau."


def analyze_body(text: str = CLEAN, **extra):
    body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
    body.update(extra)
    return body


def rows(app, table, *where) -> int:
    store = app.extensions["moderation"].store
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(table).where(*where)) or 0


# --- protocol (pure) ---------------------------------------------------------------------------


def test_sentence_spans_count_code_points_not_utf16_units():
    text = "Nice one 🎉! Second sentence here.  Third?"
    spans = sentence_spans(text)
    assert [text[b:e] for b, e in spans] == ["Nice one 🎉!", "Second sentence here.", "Third?"]
    # The emoji is one code point: in UTF-16 it would push every later offset one further.
    assert spans[1] == (12, 33)


def test_sentence_spans_split_lines_and_skip_blank_stretches():
    text = "  first line\n\nsecond line without a stop  "
    assert [text[b:e] for b, e in sentence_spans(text)] == ["first line", "second line without a stop"]


def test_threshold_omits_attributes_and_spans_below_it():
    parsed = parse_analyze(
        {
            "comment": {"text": "One. Two."},
            "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.5}, "SPAM": {}},
            "spanAnnotations": True,
            "clientToken": "t-1",
        }
    )
    low = {"TOXICITY": AttributeScore(0.2, [(0, 4, 0.1)]), "SPAM": AttributeScore(0.3, [(0, 4, 0.3)])}
    answer = analyze_response(parsed, low, ["en"], ["en"])
    assert list(answer["attributeScores"]) == ["SPAM"]
    assert answer["clientToken"] == "t-1"
    high = {"TOXICITY": AttributeScore(0.7, [(0, 4, 0.9), (5, 9, 0.2)]), "SPAM": AttributeScore(0.3)}
    spans = analyze_response(parsed, high, ["en"], [])["attributeScores"]["TOXICITY"]["spanScores"]
    assert spans == [{"begin": 0, "end": 4, "score": {"value": 0.9, "type": "PROBABILITY"}}]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"requestedAttributes": {"TOXICITY": {}}}, "comment must be specified"),
        ({"comment": {"text": "  "}, "requestedAttributes": {"TOXICITY": {}}}, "empty"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {}}, "requestedAttributes"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}}, "scoreType"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}}, "between"),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "bogus": 1},
            'Unknown name "bogus"',
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": "en"},
            "languages",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": "yes"},
            "boolean",
        ),
        (
            {"comment": {"text": "x" * (MAX_TEXT_BYTES + 1)}, "requestedAttributes": {"TOXICITY": {}}},
            "too long",
        ),
    ],
)
def test_malformed_analyze_requests_are_invalid_argument(body, fragment):
    with pytest.raises(PerspectiveError) as raised:
        parse_analyze(body)
    error = raised.value.body()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert fragment in error["message"]


def test_the_text_limit_counts_utf8_bytes():
    at_limit = "é" * (MAX_TEXT_BYTES // 2)  # two bytes each
    assert parse_analyze(analyze_body(at_limit)).text == at_limit
    with pytest.raises(PerspectiveError):
        parse_analyze(analyze_body(at_limit + "é"))


def test_suggest_needs_a_probability_per_attribute():
    parsed = parse_suggest(
        {"comment": {"text": "hi"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}}
    )
    assert parsed.scores == {"TOXICITY": 1.0}
    with pytest.raises(PerspectiveError):
        parse_suggest({"comment": {"text": "hi"}, "attributeScores": {"TOXICITY": {}}})


# --- the views ---------------------------------------------------------------------------------


def test_analyze_scores_the_attributes_the_model_has(app, client, keys):
    body = analyze_body(TOXIC, requestedAttributes={"TOXICITY": {}, "SPAM": {}}, clientToken="abc")
    response = client.post(f"{ANALYZE}?key={keys['client']}", json=body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert set(answer["attributeScores"]) == {"TOXICITY", "SPAM"}
    toxicity = answer["attributeScores"]["TOXICITY"]["summaryScore"]
    assert toxicity["type"] == "PROBABILITY" and toxicity["value"] > 0.5
    assert answer["attributeScores"]["SPAM"]["summaryScore"]["value"] < toxicity["value"]
    assert answer["languages"] == ["en"] and answer["detectedLanguages"] == ["en"]
    assert answer["clientToken"] == "abc"
    # Kept like an Akismet check: the text, its scores, and where it came from.
    store = app.extensions["moderation"].store
    with store.sessions() as session:
        kept = session.scalars(select(Analysis)).one()
    assert (kept.text, kept.source, kept.language) == (TOXIC, "perspective", "en")
    assert kept.scores["toxicity"] == pytest.approx(toxicity["value"], abs=1e-3)


def test_analyze_accepts_the_key_as_a_bearer_token(client, keys):
    response = client.post(ANALYZE, json=analyze_body(), headers=auth(keys["client"]))
    assert response.status_code == 200


def test_do_not_store_keeps_nothing(app, client, keys):
    body = analyze_body(TOXIC, doNotStore=True)
    assert client.post(f"{ANALYZE}?key={keys['client']}", json=body).status_code == 200
    assert rows(app, Analysis) == 0


def test_every_perspective_attribute_is_scored_and_tells_its_kind(client, keys):
    attributes = ["TOXICITY", "SEVERE_TOXICITY", "INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK",
                  "SEXUALLY_EXPLICIT", "SPAM"]  # fmt: skip
    body = analyze_body(TOXIC, requestedAttributes={name: {} for name in attributes})
    response = client.post(f"{ANALYZE}?key={keys['client']}", json=body)
    assert response.status_code == 200, response.get_json()
    values = {k: v["summaryScore"]["value"] for k, v in response.get_json()["attributeScores"].items()}
    assert set(values) == set(attributes)
    assert values["INSULT"] > 0.5 > values["THREAT"] and values["INSULT"] > values["SEXUALLY_EXPLICIT"]
    threat = "I know where you live and I will come round tonight and break both your legs."
    body = analyze_body(threat, requestedAttributes={"THREAT": {}, "INSULT": {}})
    answer = client.post(f"{ANALYZE}?key={keys['client']}", json=body).get_json()["attributeScores"]
    assert answer["THREAT"]["summaryScore"]["value"] > 0.5
    assert answer["THREAT"]["summaryScore"]["value"] > answer["INSULT"]["summaryScore"]["value"]


def test_an_unknown_attribute_is_refused_in_googles_shape(client, keys):
    body = analyze_body(requestedAttributes={"TOXICITY": {}, "FLIRTATION": {}})
    response = client.post(f"{ANALYZE}?key={keys['client']}", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "FLIRTATION" in error["message"]
    assert error["details"][0]["errorType"] == "ATTRIBUTE_NOT_SUPPORTED"
    unknown = client.post(
        f"{ANALYZE}?key={keys['client']}", json=analyze_body(requestedAttributes={"FOO": {}})
    )
    assert unknown.status_code == 400 and "FOO" in unknown.get_json()["error"]["message"]


@pytest.mark.parametrize(("text", "languages"), [(CLEAN, ["fr"]), (FRENCH, None), (CLEAN, ["en", "de-DE"])])
def test_an_unsupported_language_is_refused(app, client, keys, text, languages):
    body = analyze_body(text) if languages is None else analyze_body(text, languages=languages)
    response = client.post(f"{ANALYZE}?key={keys['client']}", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["message"].startswith("Attribute TOXICITY does not support request languages:")
    assert error["details"][0]["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert rows(app, Analysis) == 0


def test_drop_unsupported_attributes_answers_without_scores(client, keys):
    body = analyze_body(FRENCH, dropUnsupportedAttributes=True)
    answer = client.post(f"{ANALYZE}?key={keys['client']}", json=body).get_json()
    assert answer["attributeScores"] == {} and answer["detectedLanguages"] == ["fr"]


def test_a_short_text_is_scored_as_english(client, keys):
    answer = client.post(f"{ANALYZE}?key={keys['client']}", json=analyze_body("ok 👍")).get_json()
    assert answer["languages"] == ["en"] and answer["detectedLanguages"] == []
    assert "TOXICITY" in answer["attributeScores"]


def test_span_annotations_score_each_sentence(client, keys):
    text = f"{CLEAN} {TOXIC}"
    body = analyze_body(text, spanAnnotations=True)
    spans = client.post(f"{ANALYZE}?key={keys['client']}", json=body).get_json()["attributeScores"][
        "TOXICITY"
    ]["spanScores"]
    assert [text[s["begin"] : s["end"]] for s in spans] == [CLEAN, TOXIC]
    assert spans[1]["score"]["value"] > spans[0]["score"]["value"]


@pytest.mark.parametrize(
    ("key", "status", "google_status"),
    [("mk_nope_nope", 400, "INVALID_ARGUMENT"), (None, 403, "PERMISSION_DENIED")],
)
def test_bad_or_missing_keys(client, key, status, google_status):
    url = ANALYZE if key is None else f"{ANALYZE}?key={key}"
    response = client.post(url, json=analyze_body())
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == google_status


def test_a_moderator_key_is_not_a_client_key(client, keys):
    response = client.post(f"{ANALYZE}?key={keys['moderator']}", json=analyze_body())
    assert response.status_code == 403


def test_malformed_json_is_invalid_argument(client, keys):
    response = client.post(
        f"{ANALYZE}?key={keys['client']}", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["error"]["status"] == "INVALID_ARGUMENT"


def test_suggestscore_stores_a_label_marked_as_from_perspective(app, client, keys):
    body = {
        "comment": {"text": TOXIC},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
        "languages": ["en"],
        "clientToken": "comment:42",
    }
    response = client.post(f"{SUGGEST}?key={keys['client']}", json=body)
    assert response.status_code == 200
    assert response.get_json() == {
        "detectedLanguages": ["en"],
        "requestedLanguages": ["en"],
        "clientToken": "comment:42",
    }
    store = app.extensions["moderation"].store
    with store.sessions() as session:
        label = session.scalars(select(Label)).one()
    assert (label.label, label.source, label.text, label.comment_id) == (
        "toxic",
        "perspective_suggest",
        TOXIC,
        None,
    )
    ham = dict(body, attributeScores={"TOXICITY": {"summaryScore": {"value": 0}}})
    client.post(f"{SUGGEST}?key={keys['client']}", json=ham)
    assert rows(app, Label, Label.label == "ham", Label.source == "perspective_suggest") == 1


def test_rate_limits_answer_resource_exhausted(app_config, keys):
    app_config["rate_limit"] = "2/minute"
    limited = create_app(app_config)
    key = limited.extensions["moderation"].store.create_key("client", "limited")[1]
    client = limited.test_client()
    for _ in range(2):
        assert client.post(f"{ANALYZE}?key={key}", json=analyze_body(doNotStore=True)).status_code == 200
    refused = client.post(f"{ANALYZE}?key={key}", json=analyze_body(doNotStore=True))
    assert refused.status_code == 429
    assert refused.get_json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert int(refused.headers["Retry-After"]) > 0


def test_the_discovery_document_points_at_this_service(client):
    document = client.get("/$discovery/rest", base_url="https://moderation.example.org").get_json()
    assert document["rootUrl"] == "https://moderation.example.org/"
    assert document["name"] == "commentanalyzer" and document["version"] == "v1alpha1"
    methods = document["resources"]["comments"]["methods"]
    assert methods["analyze"]["path"] == "v1alpha1/comments:analyze"
    assert methods["suggestscore"]["request"] == {"$ref": "SuggestCommentScoreRequest"}


# --- language identification and the /v1/comments policy -------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "lol 😂😂",
        "https://example.org/a/b?c=1 see 12345",
        "Merci!",
        "Danke schön",
        "+1 agreed",
        "gg wp",
    ],
)
def test_short_or_mostly_non_word_texts_are_undetermined(text):
    assert identify(text).language is None and identify(text).supported


def test_confident_identification_of_longer_texts():
    assert identify(FRENCH).language == "fr"
    assert identify("Danke für den Artikel, die Brücke ist wirklich sehr alt und schön.").language == "de"
    assert identify(CLEAN).language == "en"


def test_an_unsupported_language_is_held_for_a_reader(app, client, keys, submit):
    response = submit(text=FRENCH)
    assert response.status_code == 201
    body = response.get_json()
    assert body["decision"] == "hold" and body["reason"]["code"] == "language"
    assert body["language"] == "fr"
    queue = client.get("/v1/queue", headers=auth(keys["moderator"])).get_json()
    item = next(i for i in queue["items"] if i["id"] == body["id"])
    assert item["language"] == "fr"
    assert any(r["code"] == "language" and r["detail"] == {"language": "fr"} for r in item["reasons"])


def test_the_queue_page_shows_the_language(app, client, keys, submit):
    comment_id = submit(text=FRENCH).get_json()["id"]
    sign_in(client, keys["moderator"])
    page = client.get("/moderate/").get_data(as_text=True)
    assert comment_id in page and "<dt>Language</dt><dd><code>fr</code></dd>" in page


def test_english_comments_carry_their_language_and_are_unaffected(submit):
    body = submit(text=CLEAN).get_json()
    assert body["language"] == "en" and body["reason"]["code"] != "language"
    assert submit(text="ok").get_json()["language"] is None


@pytest.mark.parametrize(
    ("policy", "decision", "reason"), [("approve", "approve", "language"), ("score", None, None)]
)
def test_the_unsupported_language_policy(app_config, policy, decision, reason):
    app_config["unsupported_language"] = policy
    app = create_app(app_config)
    key = app.extensions["moderation"].store.create_key("client", "policy")[1]
    body = app.test_client().post("/v1/comments", json=comment(text=FRENCH), headers=auth(key)).get_json()
    assert body["language"] == "fr"
    if policy == "approve":
        assert (body["decision"], body["reason"]["code"]) == (decision, reason)
    else:
        assert "language" not in [r["code"] for r in body["reasons"]]


def test_a_declared_language_decides_for_a_short_text(submit):
    assert submit(text="Super article", language="fr-CA").get_json()["reason"]["code"] == "language"
    # A confident identification wins over the declaration.
    assert submit(text=CLEAN, language="fr").get_json()["language"] == "en"


def test_akismet_reads_blog_lang(client, keys):
    def check(blog_lang: str | None, text: str) -> str:
        form = {
            "api_key": keys["client"],
            "blog": "https://blog.example.org",
            "comment_content": text,
            "comment_author": "Lecteur",
            "comment_author_email": f"lecteur-{abs(hash((blog_lang, text)))}@example.org",
        }
        if blog_lang is not None:
            form["blog_lang"] = blog_lang
        return client.post("/1.1/comment-check", data=form).headers["X-Moderation-Reason"]

    assert check("fr_ca", "Bravo, super!") == "language"
    assert check("en, fr", "Bravo, super!") != "language"  # a site of two languages says nothing
    assert check(None, "Bravo, super!") != "language"
    assert check("en_us", FRENCH) == "language"  # the text itself is identified


def test_log_scrubbing_drops_the_key_from_perspective_request_lines(keys):
    """gunicorn's error log and ours print request lines; the Perspective path has a colon in it."""
    from moderation.ops.logs import scrub_query_strings

    line = f'Invalid request from "POST /v1alpha1/comments:analyze?alt=json&key={keys["client"]} HTTP/1.1"'
    scrubbed = scrub_query_strings(line)
    assert keys["client"].split("_", 2)[2] not in scrubbed
    assert "/v1alpha1/comments:analyze?…" in scrubbed


def test_kept_analyses_are_erased_with_the_author_and_purged_with_age(app, client, keys, submit):
    from datetime import timedelta

    from moderation.store.privacy import erase_email
    from moderation.store.repository import purge, utcnow

    store = app.extensions["moderation"].store
    submit(email="ann@example.org", text=CLEAN)
    for text_in in (CLEAN, TOXIC):
        assert client.post(f"{ANALYZE}?key={keys['client']}", json=analyze_body(text_in)).status_code == 200
    assert erase_email(store, "ann@example.org")["analyses"] == 1
    with store.sessions.begin() as session:
        (left,) = session.scalars(select(Analysis)).all()
        assert left.text == TOXIC
        left.created_at = utcnow() - timedelta(days=40)
    assert purge(store, utcnow() - timedelta(days=30))["analyses"] == 1
    assert rows(app, Analysis) == 0


@pytest.mark.parametrize("escaped", ["\\ud800", "\\u0000"])
def test_texts_no_database_can_store_are_refused(app, client, keys, escaped):
    raw = '{"comment": {"text": "fine words ' + escaped + '"}, "requestedAttributes": {"TOXICITY": {}}}'
    response = client.post(
        f"{ANALYZE}?key={keys['client']}", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    assert rows(app, Analysis) == 0


def test_dense_scripts_and_disguised_english():
    assert identify("この記事はとても面白かったです。ありがとう").language == "ja"
    # English written with Cyrillic look-alike letters is not Russian: the classifier must judge it.
    assert identify("Уоu аrе а wоrthlеss іdіоt аnd еvеrуоnе hеrе hаtеs уоu").supported


def test_no_toxic_corpus_comment_is_held_for_language():
    """A language hold must never be a way around the toxicity classifier (docs/model.md)."""
    from tests.helpers import CORPUS

    held = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["label"] == "toxic" and not identify(row["text"]).supported:
                held.append(row["text"])
    assert held == []
