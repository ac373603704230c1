"""Block lists kept in the database, managed by admins and read by every worker's checks."""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from moderation.pipeline.checks import AuthorBlockList, CheckRules, TermMatcher
from moderation.store import blocklist
from moderation.store.repository import Principal, Store
from moderation.store.tables import BlockEntry

KINDS = ("blocked_term", "watched_term", "blocked_author")


@lru_cache(maxsize=64)
def _compiled(
    blocked: tuple[str, ...], watched: tuple[str, ...], authors: tuple[str, ...]
) -> tuple[TermMatcher, TermMatcher, AuthorBlockList]:
    return TermMatcher(blocked), TermMatcher(watched), AuthorBlockList(authors)


class BlockLists:
    """Database lists merged with the configured ones; re-read at most every `ttl` seconds per worker."""

    def __init__(self, store: Store, base: CheckRules, ttl: float = 1.0) -> None:
        self.store = store
        self.base = base
        self.ttl = ttl
        self._lock = threading.Lock()
        self._rules: CheckRules | None = None
        self._expires = 0.0
        self.config = {
            "blocked_term": base.blocked_terms.terms,
            "watched_term": base.watched_terms.terms,
            "blocked_author": base.blocked_authors.entries,
        }

    def entries(self) -> list[BlockEntry]:
        return blocklist.entries(self.store)

    def add(self, principal: Principal, kind: str, value: str) -> BlockEntry:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        entry = blocklist.add_entry(self.store, kind, value.strip(), principal.key_id)
        self._expires = 0.0
        return entry

    def remove(self, entry_id: int) -> bool:
        removed = blocklist.remove_entry(self.store, entry_id)
        self._expires = 0.0
        return removed

    def invalidate(self) -> None:
        """Read the lists again on the next check (this worker; others within `ttl` seconds)."""
        self._expires = 0.0

    def rules(self) -> CheckRules:
        """Return the check rules with the current database lists merged in."""
        now = time.monotonic()
        if self._rules is not None and now < self._expires:
            return self._rules
        rows = blocklist.kinds_and_values(self.store)
        lists: dict[str, list[str]] = {k: list(v) for k, v in self.config.items()}
        for kind, value in rows:
            lists.setdefault(kind, []).append(value)
        blocked, watched, authors = _compiled(
            *(tuple(sorted(lists[k])) for k in ("blocked_term", "watched_term", "blocked_author"))
        )
        rules = CheckRules(
            blocked_terms=blocked,
            watched_terms=watched,
            blocked_authors=authors,
            max_links=self.base.max_links,
            flood_seconds=self.base.flood_seconds,
            min_elapsed_ms=self.base.min_elapsed_ms,
            trusted_after=self.base.trusted_after,
            hold_new_authors=self.base.hold_new_authors,
        )
        with self._lock:
            self._rules, self._expires = rules, now + self.ttl
        return rules

    @staticmethod
    def describe(entry: BlockEntry) -> dict[str, Any]:
        return {"id": entry.id, "kind": entry.kind, "value": entry.value, "created_at": entry.created_at}
