import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.pipeline.checks import (
    AuthorBlockList,
    CheckRules,
    TermMatcher,
    check_blocked_author,
    check_blocked_terms,
    check_duplicate,
    check_flood,
    check_honeypot,
    check_links,
    check_new_author,
    check_too_fast,
    check_trusted_author,
    check_watched_terms,
    count_links,
    run_checks,
)
from moderation.pipeline.domain import AuthorHistory, Severity, Submission

NEW = AuthorHistory()


def sub(**fields):
    base = {"name": "Ana", "email": "ana@example.org", "text": "A fair point about the budget."}
    base.update(fields)
    return Submission(**base)


def test_honeypot_filled_rejects_and_empty_passes():
    rules = CheckRules()
    assert check_honeypot(sub(honeypot="http://bot"), NEW, rules).severity is Severity.REJECT
    assert check_honeypot(sub(honeypot="  "), NEW, rules) is None
    assert check_honeypot(sub(), NEW, rules) is None


def test_links_hold_at_the_configured_count_including_the_author_url():
    rules = CheckRules(max_links=2)
    one = sub(text="Source: https://www.gao.gov/report")
    assert check_links(one, NEW, rules) is None
    signal = check_links(sub(text="see https://a.example and www.b.example"), NEW, rules)
    assert signal.code == "links" and signal.detail["links"] == 2
    with_site = sub(text="see https://a.example", url="https://my.blog")
    assert check_links(with_site, NEW, rules).severity is Severity.HOLD


def test_a_url_with_www_counts_once():
    assert count_links(sub(text="https://www.example.com/x http://example.org")) == 2


def test_blocked_term_matches_whole_words_in_any_field_through_disguise():
    rules = CheckRules(blocked_terms=TermMatcher(["casino", "cheap pills"]))
    assert check_blocked_terms(sub(text="best c@s1no bonus"), NEW, rules).detail["terms"] == ["casino"]
    assert check_blocked_terms(sub(name="Cheap  Pills"), NEW, rules).code == "blocked_term"
    assert check_blocked_terms(sub(url="https://casino.example"), NEW, rules) is not None
    assert check_blocked_terms(sub(text="the casinos of Macau"), NEW, rules) is None


def test_watched_term_holds():
    rules = CheckRules(watched_terms=TermMatcher(["ukraine"]))
    signal = check_watched_terms(sub(text="News from UKRAINE today"), NEW, rules)
    assert signal.severity is Severity.HOLD and signal.detail["terms"] == ["ukraine"]


def test_blocked_author_by_email_domain_and_ip_network():
    rules = CheckRules(blocked_authors=AuthorBlockList(["spam@bad.example", "@junk.example", "10.0.0.0/8"]))
    assert check_blocked_author(sub(email="Spam@bad.example"), NEW, rules).detail["matched"] == "email"
    assert check_blocked_author(sub(email="x@mail.junk.example"), NEW, rules).detail["matched"] == (
        "email_domain"
    )
    assert check_blocked_author(sub(ip="10.1.2.3"), NEW, rules).detail["matched"] == "ip"
    assert check_blocked_author(sub(ip="2001:db8::1"), NEW, rules) is None
    assert check_blocked_author(sub(), NEW, rules) is None


def test_duplicate_uses_wordpress_message():
    signal = check_duplicate(sub(), AuthorHistory(duplicate=True), CheckRules())
    assert signal.message == "Duplicate comment detected; it looks as though you've already said that."
    assert check_duplicate(sub(), NEW, CheckRules()) is None


def test_flood_rejects_inside_the_window_only():
    rules = CheckRules(flood_seconds=15)
    signal = check_flood(sub(), AuthorHistory(seconds_since_last=3.0), rules)
    assert signal.message == "You are posting comments too quickly. Slow down."
    assert check_flood(sub(), AuthorHistory(seconds_since_last=16.0), rules) is None
    assert check_flood(sub(), NEW, rules) is None


def test_too_fast_holds_below_minimum_elapsed_time():
    rules = CheckRules(min_elapsed_ms=3000)
    assert check_too_fast(sub(elapsed_ms=400), NEW, rules).code == "too_fast"
    assert check_too_fast(sub(elapsed_ms=45_000), NEW, rules) is None
    assert check_too_fast(sub(), NEW, rules) is None


def test_trusted_and_new_author():
    rules = CheckRules(trusted_after=1, hold_new_authors=True)
    assert check_trusted_author(sub(), AuthorHistory(approved=2), rules).severity is Severity.TRUST
    assert check_trusted_author(sub(), AuthorHistory(approved=1, rejected=3), rules) is None
    assert check_new_author(sub(), NEW, rules).code == "new_author"
    assert check_new_author(sub(), AuthorHistory(approved=1), rules) is None
    assert check_new_author(sub(), NEW, CheckRules(hold_new_authors=False)) is None


def test_run_checks_returns_signals_in_check_order():
    rules = CheckRules(watched_terms=TermMatcher(["budget"]))
    codes = [s.code for s in run_checks(sub(honeypot="x"), NEW, rules)]
    assert codes == ["honeypot", "watched_term"]


def test_link_and_term_checks_stay_linear_on_a_megabyte_of_adversarial_text():
    rules = CheckRules(blocked_terms=TermMatcher(["a" * 50 + "b", "spam"]), max_links=2)
    hostile = sub(text="http://" + "a" * 1_000_000 + " " + "www." * 50_000)
    # Completing at all is the assertion: catastrophic backtracking would never return.
    assert check_links(hostile, NEW, rules).detail["links"] >= 2
    assert check_blocked_terms(hostile, NEW, rules) is None


@given(st.text(max_size=200), st.text(max_size=50))
def test_checks_never_raise_on_arbitrary_text(text, name):
    rules = CheckRules(blocked_terms=TermMatcher(["x"]), watched_terms=TermMatcher(["y z"]))
    if not text.strip() or not name.strip():
        return
    signals = run_checks(sub(text=text, name=name), NEW, rules)
    assert all(s.severity in Severity for s in signals)


@pytest.mark.parametrize(
    "disguise",
    [
        "c-a-s-i-n-o", "c_a_s_i_n_o", "c.a.s.i.n.o", "ca/sino", "cas-ino", "caaasino", "ᴄᴀꜱɪɴᴏ",
        "ᏟᎪЅΙΝΟ", "саѕinο", "cas\u2800ino", "cas\u200bino", "c a s i n o", "CASINO",
    ],
)  # fmt: skip
def test_blocked_terms_cannot_be_evaded_with_disguises(disguise):
    rules = CheckRules(blocked_terms=TermMatcher(["casino"]))
    signal = check_blocked_terms(sub(text=f"Best online {disguise} bonus here"), NEW, rules)
    assert signal is not None and signal.detail["terms"] == ["casino"]


@pytest.mark.parametrize("text", ["An occasional flutter at the casinos of Monaco", "Cassie wrote this"])
def test_blocked_terms_still_match_whole_words_only(text):
    rules = CheckRules(blocked_terms=TermMatcher(["casino", "ass"]))
    assert check_blocked_terms(sub(text=text), NEW, rules) is None
