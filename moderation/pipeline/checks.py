"""Rule checks: small independent functions from a submission and its author's history to a signal."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from moderation.pipeline.domain import AuthorHistory, Severity, Signal, Submission
from moderation.pipeline.normalize import compact, fold_term

MESSAGES = {
    "duplicate": "Duplicate comment detected; it looks as though you've already said that.",
    "flood": "You are posting comments too quickly. Slow down.",
    "honeypot": "Your comment could not be accepted.",
    "blocked_author": "Your comment could not be accepted.",
    "suspended_author": "You cannot comment for a while; your comment was not published.",
    "premoderated_author": "Your comment is awaiting moderation.",
    "blocked_term": "Your comment could not be accepted.",
    "watched_term": "Your comment is awaiting moderation.",
    "links": "Your comment contains several links and is awaiting moderation.",
    "too_fast": "Your comment is awaiting moderation.",
    "new_author": "Your comment is awaiting moderation because this is your first comment here.",
    "trusted_author": "Your comment has been published.",
}

# Whole URLs, so "https://www.example.com" counts once; linear: one greedy class, no nesting.
_LINK = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*", re.IGNORECASE)


class TermMatcher:
    """Whole-word matching of a fixed list of terms against folded text.

    Each text is searched twice: as folded, and in its compact form (separators inside words
    dropped, repeated letters squeezed), so "ca/sino", "cas-ino" and "caaasino" find "casino".
    """

    def __init__(self, terms: Iterable[str]) -> None:
        terms = tuple(terms)
        folded = sorted({fold_term(t) for t in terms if t.strip()} - {""}, key=len, reverse=True)
        self.terms = tuple(folded)
        self._by_compact = {compact(t): t for t in reversed(folded)}
        self._pattern = _whole_words(folded)
        self._compact_pattern = _whole_words(sorted(self._by_compact, key=len, reverse=True))

    def find(self, *texts: str) -> list[str]:
        """Return the distinct terms found in any of texts, in order of first appearance."""
        if self._pattern is None or self._compact_pattern is None:
            return []
        found: dict[str, None] = {}
        for text in texts:
            for match in self._pattern.finditer(text):
                found.setdefault(match.group(0), None)
            for match in self._compact_pattern.finditer(compact(text)):
                found.setdefault(self._by_compact[match.group(0)], None)
        return list(found)


def _whole_words(terms: list[str]) -> re.Pattern[str] | None:
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, terms)) + r")(?!\w)") if terms else None


class AuthorBlockList:
    """Blocked emails, email domains and IP addresses or networks."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(e.strip() for e in entries if e.strip())
        self.emails: set[str] = set()
        self.domains: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in self.entries:
            entry = raw.lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("@"):
                self.domains.add(entry[1:])
            elif "@" in entry:
                self.emails.add(entry)
            else:
                self.domains.add(entry)

    def match(self, sub: Submission) -> str | None:
        """Return which of the author's identifiers is blocked, if any."""
        email = sub.email.lower()
        if email in self.emails:
            return "email"
        domain = sub.email_domain
        if domain in self.domains or any(domain.endswith("." + d) for d in self.domains):
            return "email_domain"
        if sub.ip and self.networks:
            address = ipaddress.ip_address(sub.ip)
            if any(address in net for net in self.networks if net.version == address.version):
                return "ip"
        return None


@dataclass(frozen=True)
class CheckRules:
    """The configured rules every check reads."""

    blocked_terms: TermMatcher = field(default_factory=lambda: TermMatcher(()))
    watched_terms: TermMatcher = field(default_factory=lambda: TermMatcher(()))
    blocked_authors: AuthorBlockList = field(default_factory=lambda: AuthorBlockList(()))
    max_links: int = 2
    flood_seconds: int = 15
    min_elapsed_ms: int = 3_000
    trusted_after: int = 1
    hold_new_authors: bool = False


Check = Callable[[Submission, AuthorHistory, CheckRules], "Signal | None"]


def _signal(code: str, severity: Severity, **detail: object) -> Signal:
    return Signal(code, severity, MESSAGES[code], dict(detail))


def check_honeypot(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Reject when the hidden form field a person never sees was filled in."""
    if sub.honeypot and sub.honeypot.strip():
        return _signal("honeypot", Severity.REJECT)
    return None


def check_blocked_author(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Reject authors whose email, email domain or IP address is blocked."""
    matched = rules.blocked_authors.match(sub)
    return _signal("blocked_author", Severity.REJECT, matched=matched) if matched else None


def check_suspended_author(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Reject comments from an author a moderator suspended, until the suspension ends."""
    if history.suspended_until:
        return _signal("suspended_author", Severity.REJECT, until=history.suspended_until)
    return None


def check_premoderated_author(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Hold every comment of an author a moderator put on pre-moderation, however clean."""
    return _signal("premoderated_author", Severity.HOLD) if history.premoderated else None


def _fields_for_terms(sub: Submission) -> tuple[str, ...]:
    return (sub.folded_name, sub.folded_email, sub.folded_url, sub.folded_text)


def check_blocked_terms(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Reject a comment whose name, email, url or text holds a blocked term."""
    terms = rules.blocked_terms.find(*_fields_for_terms(sub))
    return _signal("blocked_term", Severity.REJECT, terms=terms) if terms else None


def check_watched_terms(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Hold a comment whose name, email, url or text holds a watched term."""
    terms = rules.watched_terms.find(*_fields_for_terms(sub))
    return _signal("watched_term", Severity.HOLD, terms=terms) if terms else None


def count_links(sub: Submission) -> int:
    """Count links in the text plus the author's website."""
    return len(_LINK.findall(sub.clean_text)) + (1 if sub.url else 0)


def check_links(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Hold a comment with max_links or more links, as WordPress does."""
    links = count_links(sub)
    if links >= rules.max_links:
        return _signal("links", Severity.HOLD, links=links, limit=rules.max_links)
    return None


def check_duplicate(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Reject the same text from the same author again."""
    return _signal("duplicate", Severity.REJECT) if history.duplicate else None


def check_flood(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Reject a comment from an author or IP that commented moments ago."""
    since = history.seconds_since_last
    if since is not None and since < rules.flood_seconds:
        return _signal("flood", Severity.REJECT, seconds_since_last=round(since, 3))
    return None


def check_too_fast(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Hold a comment whose form was filled in faster than a person types."""
    if sub.elapsed_ms is not None and sub.elapsed_ms < rules.min_elapsed_ms:
        return _signal("too_fast", Severity.HOLD, elapsed_ms=sub.elapsed_ms, minimum=rules.min_elapsed_ms)
    return None


def check_trusted_author(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Mark authors with previously approved comments and none rejected as trusted."""
    if rules.trusted_after and history.approved >= rules.trusted_after and history.rejected == 0:
        return _signal("trusted_author", Severity.TRUST, approved=history.approved)
    return None


def check_new_author(sub: Submission, history: AuthorHistory, rules: CheckRules) -> Signal | None:
    """Hold first comments when pre-moderation of new authors is on."""
    if rules.hold_new_authors and history.approved == 0:
        return _signal("new_author", Severity.HOLD)
    return None


ALL_CHECKS: tuple[Check, ...] = (
    check_honeypot,
    check_blocked_author,
    check_suspended_author,
    check_blocked_terms,
    check_duplicate,
    check_flood,
    check_premoderated_author,
    check_watched_terms,
    check_links,
    check_too_fast,
    check_new_author,
    check_trusted_author,
)


def run_checks(
    sub: Submission, history: AuthorHistory, rules: CheckRules, checks: Iterable[Check] = ALL_CHECKS
) -> list[Signal]:
    """Run every check and return the signals raised, in check order."""
    return [signal for check in checks if (signal := check(sub, history, rules)) is not None]
