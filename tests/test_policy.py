import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.pipeline.domain import Outcome, Severity, Signal, Thresholds
from moderation.pipeline.policy import decide

T = Thresholds(spam_hold=0.5, spam_reject=0.9, toxicity_hold=0.5, toxicity_reject=0.9)
LOW = {"spam": 0.1, "toxicity": 0.1}


def sig(code, severity):
    return Signal(code, Severity(severity), f"{code} message")


@pytest.mark.parametrize(
    ("signals", "scores", "outcome", "codes"),
    [
        ([], LOW, "approve", ["clean"]),
        ([], {"spam": 0.95, "toxicity": 0.1}, "reject", ["spam"]),
        ([], {"spam": 0.1, "toxicity": 0.97}, "reject", ["toxicity"]),
        ([], {"spam": 0.95, "toxicity": 0.97}, "reject", ["spam", "toxicity"]),
        ([], {"spam": 0.6, "toxicity": 0.1}, "hold", ["uncertain"]),
        ([sig("trusted_author", "trust")], {"spam": 0.6, "toxicity": 0.1}, "approve",
         ["trusted_author", "uncertain"]),
        ([sig("trusted_author", "trust")], {"spam": 0.95, "toxicity": 0.1}, "reject", ["spam"]),
        ([sig("trusted_author", "trust")], LOW, "approve", ["trusted_author"]),
        ([sig("links", "hold"), sig("trusted_author", "trust")], LOW, "hold", ["links"]),
        ([sig("links", "hold")], {"spam": 0.6, "toxicity": 0.1}, "hold", ["links", "uncertain"]),
        ([sig("too_fast", "hold"), sig("watched_term", "hold")], LOW, "hold", ["watched_term", "too_fast"]),
        ([sig("flood", "reject"), sig("honeypot", "reject")], LOW, "reject", ["honeypot", "flood"]),
        ([sig("links", "hold")], {"spam": 0.95, "toxicity": 0.1}, "reject", ["spam", "links"]),
        ([sig("duplicate", "reject")], {"spam": 0.95, "toxicity": 0.1}, "reject", ["duplicate", "spam"]),
        ([sig("new_author", "hold")], LOW, "hold", ["new_author"]),
        ([sig("blocked_author", "reject"), sig("blocked_term", "reject")], LOW, "reject",
         ["blocked_author", "blocked_term"]),
    ],
)  # fmt: skip
def test_policy_table(signals, scores, outcome, codes):
    decision = decide(signals, scores, T)
    assert decision.outcome is Outcome(outcome)
    assert [r.code for r in decision.reasons] == codes
    assert decision.reason.code == codes[0]


def test_threshold_edges_are_inclusive():
    assert decide([], {"spam": 0.9, "toxicity": 0.0}, T).outcome is Outcome.REJECT
    assert decide([], {"spam": 0.5, "toxicity": 0.0}, T).outcome is Outcome.HOLD
    assert decide([], {"spam": 0.4999, "toxicity": 0.0}, T).outcome is Outcome.APPROVE


def test_thresholds_are_per_head():
    strict = Thresholds(spam_hold=0.5, spam_reject=0.9, toxicity_hold=0.2, toxicity_reject=0.3)
    assert decide([], {"spam": 0.1, "toxicity": 0.35}, strict).outcome is Outcome.REJECT
    assert decide([], {"spam": 0.35, "toxicity": 0.1}, strict).outcome is Outcome.APPROVE


SEVERITIES = st.sampled_from(["reject", "hold", "trust"])
CODES = st.sampled_from(["links", "flood", "honeypot", "watched_term", "trusted_author", "too_fast"])


@given(
    st.lists(st.builds(sig, CODES, SEVERITIES), max_size=6),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_policy_is_total_deterministic_and_consistent(signals, spam, toxicity):
    scores = {"spam": spam, "toxicity": toxicity}
    first, second = decide(signals, scores, T), decide(list(signals), dict(scores), T)
    assert first == second
    assert first.reasons, "every decision has at least one reason"
    has_reject = any(s.severity is Severity.REJECT for s in signals) or spam >= 0.9 or toxicity >= 0.9
    assert (first.outcome is Outcome.REJECT) == has_reject
    if first.outcome is Outcome.APPROVE:
        assert not any(s.severity is Severity.HOLD for s in signals)
