"""Client reports moderators judge: the unverified labels training does not believe on its own."""

from __future__ import annotations

from typing import Any

from moderation.exceptions import AlreadyJudged, InvalidRequest, NotFound
from moderation.store.repository import (  # noqa: F401 - LABEL_TRUST is the API's list too
    CONFIRMED,
    DISCARDED,
    LABEL_TRUST,
    Principal,
    Store,
)


class LabelReports:
    """Lists labels by trust, and lets a moderator confirm or discard an unverified report.

    A report names a text and a verdict that no stored comment of the reporting client backs: one
    ordinary client key could otherwise teach every site's model (issue 15). Confirmed, it trains
    like a moderator's own review; discarded, it never trains.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def page(self, trust: str, cursor: int, limit: int) -> dict[str, Any]:
        """Labels of one trust level in id order after cursor, and the cursor of the next page."""
        if trust not in LABEL_TRUST:
            raise InvalidRequest(f"trust must be one of {', '.join(LABEL_TRUST)}")
        items = self.store.list_labels(trust, cursor, limit + 1)
        more = len(items) > limit
        items = items[:limit]
        return {"items": items, "next_cursor": items[-1]["id"] if more else None}

    def confirm(self, principal: Principal, label_id: int) -> dict[str, Any]:
        return self._judge(principal, label_id, CONFIRMED)

    def discard(self, principal: Principal, label_id: int) -> dict[str, Any]:
        return self._judge(principal, label_id, DISCARDED)

    def _judge(self, principal: Principal, label_id: int, trust: str) -> dict[str, Any]:
        changed, before = self.store.judge_label(label_id, trust, principal.key_id)
        if before is None:
            raise NotFound(f"No label {label_id}.")
        if not changed:
            raise AlreadyJudged(label_id, before)
        return {"id": label_id, "trust": trust, "reviewed_by": principal.name}
