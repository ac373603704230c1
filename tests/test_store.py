"""The store against SQLite and the real PostgreSQL server."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from moderation.store.database import make_engine
from moderation.store.repository import Store, utcnow
from moderation.store.tables import Comment
from tests.helpers import make_comment


@pytest.fixture
def store(database_url):
    store = Store(make_engine(database_url))
    yield store
    store.engine.dispose()


def test_keys_round_trip_and_revocation(store):
    key, secret = store.create_key("moderator", "desk")
    principal = store.authenticate(secret)
    assert principal is not None and principal.role == "moderator" and principal.key_id == key.id
    assert store.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert store.authenticate("mk_nope_nope") is None
    assert store.revoke_key(key.prefix) and not store.revoke_key(key.prefix)
    assert store.authenticate(secret) is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_window(database_url):
    worker = Store(make_engine(database_url), key_cache_seconds=5.0)
    cli = Store(make_engine(database_url))  # another process: the CLI, another worker
    worker.clock = clock = Clock()
    try:
        key, secret = cli.create_key("client", "site")
        assert worker.authenticate(secret).key_id == key.id
        assert cli.revoke_key(key.prefix)
        clock.now += 4.9
        assert worker.authenticate(secret) is not None  # trusted from memory for at most 5 s
        clock.now += 0.2
        assert worker.authenticate(secret) is None
    finally:
        worker.engine.dispose()
        cli.engine.dispose()


def test_this_process_sees_revocation_and_site_moves_at_once(database_url):
    worker = Store(make_engine(database_url), key_cache_seconds=60.0)
    worker.clock = Clock()
    try:
        key, secret = worker.create_key("client", "site")
        assert worker.authenticate(secret).site == f"key-{key.prefix}"
        assert worker.set_site(key.prefix, "news desk")
        assert worker.authenticate(secret).site == "news desk"
        assert worker.revoke_key(key.prefix)
        assert worker.authenticate(secret) is None
    finally:
        worker.engine.dispose()


def test_without_a_cache_every_check_reads_the_database(database_url):
    worker = Store(make_engine(database_url))
    cli = Store(make_engine(database_url))
    try:
        key, secret = cli.create_key("client", "site")
        assert worker.authenticate(secret) is not None
        assert cli.revoke_key(key.prefix)
        assert worker.authenticate(secret) is None
    finally:
        worker.engine.dispose()
        cli.engine.dispose()


def test_comment_is_stored_with_utc_times_and_json_fields(store):
    key, _ = store.create_key("client", "site")
    comment, created = store.insert_comment(make_comment(key.id, text="Zero\u200bwidth"))
    assert created
    loaded = store.get_comment(comment.id)
    assert loaded.text == "Zero\u200bwidth"
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.reasons[0]["code"] == "clean" and loaded.scores["toxicity"] == 0.2


def test_replay_returns_stored_row_instead_of_a_duplicate(store):
    key, _ = store.create_key("client", "site")
    first, created = store.insert_comment(make_comment(key.id, client_comment_id="42"))
    again, created_again = store.insert_comment(make_comment(key.id, client_comment_id="42", text="other"))
    assert created and not created_again
    assert again.id == first.id and again.text == "Hello"
    assert store.count_comments() == 1


def test_comment_without_client_id_never_collides(store):
    key, _ = store.create_key("client", "site")
    store.insert_comment(make_comment(key.id))
    store.insert_comment(make_comment(key.id))
    assert store.count_comments() == 2


def test_primary_key_clash_is_not_mistaken_for_a_replay(store):
    key, _ = store.create_key("client", "site")
    comment = make_comment(key.id)
    store.insert_comment(comment)
    with pytest.raises(IntegrityError):
        store.insert_comment(make_comment(key.id, id=comment.id))


def test_concurrent_replays_leave_one_row(store):
    key, _ = store.create_key("client", "site")
    results = []
    barrier = threading.Barrier(6)

    def insert():
        barrier.wait()
        results.append(store.insert_comment(make_comment(key.id, client_comment_id="race")))

    threads = [threading.Thread(target=insert) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in results) == 1
    assert len({c.id for c, _ in results}) == 1
    assert store.count_comments() == 1


def test_author_history_counts_statuses_and_finds_recent_activity(store):
    key, _ = store.create_key("client", "site")
    now = utcnow()
    store.insert_comment(make_comment(key.id, created_at=now - timedelta(hours=2), fingerprint="a" * 64))
    store.insert_comment(
        make_comment(key.id, created_at=now - timedelta(seconds=5), status="rejected", fingerprint="b" * 64,
                     email="other@example.org", email_key="other@example.org", ip="198.51.100.7")
    )  # fmt: skip
    history = store.author_history("ANA@example.org", "198.51.100.7", "a" * 64, now, 86_400, key.site)
    assert history.approved == 1 and history.rejected == 0
    assert history.duplicate is True
    assert 4 < history.seconds_since_last < 6  # the other author's comment from the same IP
    stale = store.author_history("ana@example.org", None, "a" * 64, now, 3_600, key.site)
    assert stale.duplicate is False and stale.seconds_since_last > 7000
    stranger = store.author_history("new@example.org", None, "c" * 64, now, 86_400, key.site)
    assert stranger.approved == 0 and stranger.seconds_since_last is None


def test_training_labels_keep_latest_verdict_per_comment(store):
    key, _ = store.create_key("client", "site")
    comment, _ = store.insert_comment(make_comment(key.id, text="buy now"))
    store.add_label(comment, "ham", "cms_feedback", key.id)
    store.add_label(comment, "spam", "cms_feedback", key.id)
    assert [(r["text"], r["label"]) for r in store.training_labels()] == [("buy now", "spam")]


def test_concurrent_reviews_one_wins_on_every_backend(store):
    from moderation.exceptions import AlreadyReviewed
    from moderation.services.review import ReviewQueue
    from moderation.store.repository import Principal

    key, _ = store.create_key("client", "site")
    comment, _ = store.insert_comment(make_comment(key.id, status="held", decision="hold"))
    moderators = [store.create_key("moderator", f"m{i}")[0] for i in range(5)]
    queue = ReviewQueue(store)
    outcomes = []
    barrier = threading.Barrier(len(moderators))

    def review(mod):
        barrier.wait()
        try:
            queue.review(Principal(mod.id, mod.name, "moderator"), comment.id, "approve", "ham", None)
            outcomes.append("approved")
        except AlreadyReviewed as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=review, args=(m,)) for m in moderators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["AlreadyReviewed"] * 4 + ["approved"]
    assert len(queue.audit(comment.id)) == 1
    assert store.get_comment(comment.id).status == "approved"


def test_decision_changes_reports_and_their_migration_on_every_backend(store, database_url):
    """0006 adds what changed decisions and reports need; it downgrades and upgrades cleanly."""
    from moderation.services.review import ReviewQueue
    from moderation.store.database import upgrade
    from moderation.store.repository import Principal
    from moderation.store.reviews import QueueFilter

    key, _ = store.create_key("client", "site")
    mod, _ = store.create_key("moderator", "desk")
    moderator = Principal(mod.id, mod.name, "moderator")
    comment, _ = store.insert_comment(make_comment(key.id))
    queue = ReviewQueue(store)
    report, created = queue.report(Principal(key.id, key.name, "client"), comment.id, "r1", "spam", "ads")
    assert created and report["open_reports"] == 1
    _, again = queue.report(Principal(key.id, key.name, "client"), comment.id, "r1", "abusive", None)
    assert again is False
    assert queue.page(QueueFilter(view="reported"), None, 10)["views"]["reported"] == 1
    queue.review(moderator, comment.id, "reject", None, "ads", "off_topic", "approved")
    changed = queue.review(moderator, comment.id, "approve", None, None, None, "rejected")
    assert (changed.status, changed.review_reason, changed.review_label) == ("approved", None, "ham")
    page = queue.page(QueueFilter(view="all"), None, 10)
    assert page["views"] == {
        "pending": 0,
        "reported": 0,
        "unmoderated": 0,
        "approved": 1,
        "rejected": 0,
        "all": 1,
    }
    assert [(a["from_status"], a["to_status"]) for a in queue.audit(comment.id)] == [
        ("approved", "rejected"), ("rejected", "approved"),
    ]  # fmt: skip
    store.engine.dispose()
    from alembic import command

    from moderation.store.database import alembic_config

    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0005_trust")  # undoes 0006 (and any later one)
    engine.dispose()
    upgrade(database_url)
    assert store.get_comment(comment.id).review_reason is None  # the columns are back, empty
    # Readers' reports go with their comment when its author's data is erased.
    from sqlalchemy import func, select

    from moderation.store.privacy import erase_email
    from moderation.store.tables import Report

    store.engine.dispose()
    fresh = Store(make_engine(database_url))
    comment, _ = fresh.insert_comment(make_comment(key.id))
    assert ReviewQueue(fresh).report(Principal(key.id, key.name, "client"), comment.id, "r1", "spam", None)
    erase_email(fresh, "ana@example.org")
    with fresh.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Report)).scalar_one() == 0
    fresh.engine.dispose()


def test_author_actions_reach_the_history_and_their_migration_on_every_backend(store, database_url):
    """0007: notes and actions per author; pre-moderation and an unexpired suspension are in the
    author's history; the migration downgrades and upgrades cleanly."""
    from alembic import command

    from moderation.store.authors import AlreadyActive, AuthorStore
    from moderation.store.database import alembic_config, upgrade

    key, _ = store.create_key("client", "site")
    mod, _ = store.create_key("moderator", "desk")
    store.insert_comment(make_comment(key.id, ip="198.51.100.7"))
    authors = AuthorStore(store)
    now = utcnow()
    authors.add_note("ana@example.org", "warned once", mod.id, now)
    premod = authors.act("ana@example.org", "premoderate", "watch", mod.id, now)
    with pytest.raises(AlreadyActive):
        authors.act("ana@example.org", "premoderate", "again", mod.id, now)
    authors.act("ana@example.org", "suspend", "cool off", mod.id, now, until=now + timedelta(days=2))
    history = store.author_history("Ana@Example.org", None, "f" * 64, now, 0, "site")
    assert history.premoderated and history.suspended_until == (now + timedelta(days=2)).isoformat()
    later = store.author_history("ana@example.org", None, "f" * 64, now + timedelta(days=3), 0, "site")
    assert not later.suspended_until and later.premoderated
    assert authors.lift("ana@example.org", premod, mod.id, "fine", now) == "premoderate"
    assert not store.author_history("ana@example.org", None, "f" * 64, now, 0, "site").premoderated
    summary = authors.summary("ana@example.org")
    assert summary["counts"]["total"] == 1 and summary["ips"][0]["ip"] == "198.51.100.7"
    actions = authors.actions("ana@example.org", now)
    assert [(a["action"], a["active"]) for a in actions] == [("suspend", True), ("premoderate", False)]
    assert actions[1]["lift_reason"] == "fine" and actions[1]["lifted_by"] == "desk"
    store.engine.dispose()
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0006_workspace")
    engine.dispose()
    upgrade(database_url)
    fresh = Store(make_engine(database_url))
    assert AuthorStore(fresh).notes("ana@example.org") == []  # the tables are back, empty
    assert not fresh.author_history("ana@example.org", None, "f" * 64, now, 0, "site").premoderated
    fresh.engine.dispose()


def test_post_context_is_stored_and_parents_are_found_per_client_key(store):
    from moderation.services.context import post_thread, reply_context

    site, other = store.create_key("client", "site")[0], store.create_key("client", "other")[0]
    now = utcnow()
    title = "Frigates – «late» again"
    earlier = now - timedelta(seconds=2)
    parent, _ = store.insert_comment(
        make_comment(site.id, client_comment_id="p1", post_id="9", post_title=title,
                     post_url="https://news.example/9", text="word " * 200, created_at=earlier)
    )  # fmt: skip
    reply, _ = store.insert_comment(
        make_comment(site.id, client_comment_id="r1", parent_id="p1", post_id="9", created_at=now)
    )
    later = now + timedelta(seconds=1)
    foreign, _ = store.insert_comment(make_comment(other.id, parent_id="p1", post_id="9", created_at=later))
    stored = store.get_comment(parent.id)
    assert (stored.post_title, stored.post_url) == (title, "https://news.example/9")
    context = reply_context(store, [store.get_comment(reply.id), store.get_comment(foreign.id)])
    assert set(context) == {reply.id}
    assert context[reply.id]["id"] == parent.id and context[reply.id]["text"].endswith("…")
    assert len(context[reply.id]["text"]) <= 281
    thread = post_thread(store, "9")
    assert thread["post_title"] == title
    assert [(i["id"], i["depth"]) for i in thread["items"]] == [
        (parent.id, 0),
        (reply.id, 1),
        (foreign.id, 0),
    ]


def _reasons(*codes):
    return [{"code": code, "message": "held", "detail": {}} for code in codes]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("too_fast", {"both", "fast"}),  # the first reason of one, the second of another
        ("links", {"both", "links"}),  # the second reason of "both"
        ("watched_term", set()),  # nobody's reason
        ("links%", set()),  # not a plain code: only the JSON test, and % is no wildcard
    ],
)
def test_the_reason_filter_matches_any_of_a_comments_reasons(store, reason, expected):
    """On SQLite and PostgreSQL: a comment held for two reasons is found by either, counted under each."""
    from moderation.services.review import ReviewQueue
    from moderation.store.reviews import QueueFilter

    key, _ = store.create_key("client", "site")
    ids = {}
    for name, codes in {"both": ("links", "too_fast"), "fast": ("too_fast",), "links": ("links",)}.items():
        row = make_comment(
            key.id, status="held", decision="hold", reason_code=codes[0], reasons=_reasons(*codes)
        )
        ids[store.insert_comment(row)[0].id] = name
    # Odd stored shapes never break the query: a reason that is not an object, reasons not a list.
    store.insert_comment(make_comment(key.id, status="held", decision="hold", reasons=["links"]))
    store.insert_comment(make_comment(key.id, status="held", decision="hold", reasons={"code": "links"}))
    page = ReviewQueue(store).page(QueueFilter(reason=reason), None, 10)
    assert {ids[item.id] for item, _ in page["items"]} == expected
    assert page["views"]["pending"] == len(expected)
    assert page["counts"]["by_reason"] == {"links": 2, "too_fast": 2}
    assert page["counts"]["total"] == 5


def test_a_page_past_the_end_finds_the_last_page_before_it(store):
    from moderation.services.review import ReviewQueue, encode_cursor
    from moderation.store.reviews import QueueFilter

    key, _ = store.create_key("client", "site")
    start = utcnow() - timedelta(hours=1)
    rows = [
        store.insert_comment(
            make_comment(key.id, status="held", decision="hold", created_at=start + timedelta(minutes=i))
        )[0]
        for i in range(5)
    ]
    queue = ReviewQueue(store)
    past = encode_cursor(rows[-1])  # after the last comment: nothing left
    assert queue.page(QueueFilter(), past, 2)["items"] == []
    found, cursor = queue.last_page(QueueFilter(), past, 2)
    assert found and [c.id for c, _ in queue.page(QueueFilter(), cursor, 2)["items"]] == [
        r.id for r in rows[3:]
    ]
    assert queue.last_page(QueueFilter(), encode_cursor(rows[1]), 2) == (True, None)  # the first page
    assert queue.last_page(QueueFilter(post_id="none"), past, 2) == (False, None)
    # The newest-first views read the other way.
    newest = QueueFilter(view="all")
    found, cursor = queue.last_page(newest, encode_cursor(rows[0]), 2)
    assert found and [c.id for c, _ in queue.page(newest, cursor, 2)["items"]] == [rows[1].id, rows[0].id]


def test_reason_codes_are_filled_by_the_migration_and_a_row_without_them_counts_by_its_first(
    store, database_url
):
    from alembic import command
    from sqlalchemy import update

    from moderation.services.review import ReviewQueue
    from moderation.store.database import alembic_config, upgrade
    from moderation.store.reviews import QueueFilter

    key, _ = store.create_key("client", "site")
    row = make_comment(
        key.id, status="held", decision="hold", reason_code="links", reasons=_reasons("links", "too_fast")
    )
    both = store.insert_comment(row)[0].id
    assert store.get_comment(both).reason_codes == " links too_fast "
    queue = ReviewQueue(store)

    def found(reason):
        page = queue.page(QueueFilter(reason=reason), None, 10)
        return [c.id for c, _ in page["items"]], page["counts"]["by_reason"]

    assert found("too_fast") == ([both], {"links": 1, "too_fast": 1})
    # A row written by a worker from before the column: its first reason is all that is known.
    with store.engine.begin() as connection:
        connection.execute(update(Comment).values(reason_codes=None))
    assert found("too_fast") == ([], {"links": 1})
    assert found("links") == ([both], {"links": 1})
    # 0011 fills the column from the reasons.
    store.engine.dispose()
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0010_context")
    engine.dispose()
    upgrade(database_url)
    assert store.get_comment(both).reason_codes == " links too_fast "
    assert found("too_fast") == ([both], {"links": 1, "too_fast": 1})


def test_the_store_makes_the_row_of_a_decided_submission_and_returns_what_it_stored(store):
    """add_comment takes the domain's objects and returns the one Comment type, equal to the row read back."""
    from moderation.pipeline.domain import Severity, Signal, Submission, Thresholds
    from moderation.pipeline.policy import decide
    from moderation.store.repository import NewComment, utcnow
    from moderation.store.tables import Comment

    key, _ = store.create_key("client", "site")
    submission = Submission(name="Ana", email="Ana@Example.ORG", text="Buy pills at http://x.example",
                            ip="198.51.100.7", post_id="42", client_comment_id="wp-9")  # fmt: skip
    signals = [Signal("links", Severity.HOLD, "Too many links.", {"links": 1})]
    scores = {"spam": 0.923456, "toxicity": 0.01234}
    decision = decide(signals, scores, Thresholds())
    new = NewComment(key.id, "wp-9", submission, decision, signals, scores, {"signals": {}}, "v-test",
                     "en", None, utcnow())  # fmt: skip
    stored, created = store.add_comment(new)
    assert created and isinstance(stored, Comment)
    assert stored.email_key == "ana@example.org" and stored.fingerprint == submission.text_fingerprint
    assert stored.scores == {"spam": 0.9235, "toxicity": 0.0123} and stored.spam_score == 0.9235
    assert stored.decision == "reject" and stored.status == "rejected"
    assert stored.signals == [{"code": "links", "severity": "hold", "detail": {"links": 1}}]
    read = store.get_comment(stored.id)
    columns = [c.key for c in Comment.__table__.columns if c.key != "created_at"]
    assert {k: getattr(read, k) for k in columns} == {k: getattr(stored, k) for k in columns}
    again, created_again = store.add_comment(new)  # the CMS retries with the same comment id
    assert not created_again and isinstance(again, Comment) and again.id == stored.id
