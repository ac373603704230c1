"""Time one review-queue page (items and every count) on a database of many comments, each with one
to three reasons, with and without the reason filter.

Run: python bench/queue_reasons.py [DATABASE_URL] [COMMENTS]  (PYTHONPATH naming a checkout compares
that version: the script runs against code from before comments.reason_codes too)
(default: a temporary SQLite file and 30,000 comments, two thirds of them held). The URL must name an
empty database or schema; the script migrates it and fills it.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from moderation.services.review import ReviewQueue
from moderation.store.database import make_engine, upgrade
from moderation.store.repository import Store, utcnow
from moderation.store.reviews import QueueFilter
from moderation.store.tables import Comment

CODES = ("too_fast", "links", "watched_term", "uncertain", "new_author")
FILTERS = {
    "pending": QueueFilter(),
    "pending, reason": QueueFilter(reason="links"),
    "pending, post and reason": QueueFilter(reason="links", post_id="7"),
    "all": QueueFilter(view="all"),
}


def fill(store: Store, n: int) -> None:
    key, _ = store.create_key("client", "bench")
    rng = random.Random(13)
    now = utcnow()
    rows = []
    for i in range(n):
        codes = rng.sample(CODES, rng.randint(1, 3))
        rows.append(
            {
                "id": uuid.uuid4().hex[:28], "client_key_id": key.id, "client_comment_id": None,
                "name": "Reader", "email": f"r{i % 500}@example.org", "email_key": f"r{i % 500}@example.org",
                "text": "A comment.", "fingerprint": "f" * 64, "decision": "hold",
                "status": "held" if i % 3 else "approved", "reason_code": codes[0],
                "reasons": [{"code": c, "message": "held", "detail": {}} for c in codes], "signals": [],
                "scores": {"spam": 0.5}, "evidence": {}, "model_version": "bench",
                "created_at": now - timedelta(seconds=n - i), "post_id": str(i % 50),
            }
        )  # fmt: skip
    if "reason_codes" in Comment.__table__.c:  # as Store.insert_values writes it (absent before 0011)
        from moderation.store.repository import reason_codes

        for row in rows:
            row["reason_codes"] = reason_codes(row["reasons"])
    with store.engine.begin() as connection:
        for start in range(0, n, 2000):
            connection.execute(insert(Comment), rows[start : start + 2000])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 30_000
        upgrade(url)
        store = Store(make_engine(url))
        fill(store, n)
        queue = ReviewQueue(store)
        for name, filters in FILTERS.items():
            queue.page(filters, None, 25)  # warm
            times = []
            for _ in range(5):
                started = time.perf_counter()
                queue.page(filters, None, 25)
                times.append(time.perf_counter() - started)
            print(f"{name:26s} median {statistics.median(times) * 1000:6.0f} ms")
        store.engine.dispose()


if __name__ == "__main__":
    main()
