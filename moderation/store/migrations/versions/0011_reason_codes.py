"""Every reason of a comment, searchable (issue 13): comments.reason_codes

The review queue filters and counts by any of a comment's reasons, not only the first
(reason_code). Reading them out of the reasons JSON (json_each, json_array_elements) on every page
load and every live-update poll made a page two to four times slower with 30,000 comments
(bench/queue_reasons.py), on SQLite and PostgreSQL alike. This plain text column holds the codes as
" too_fast links " (a space on either side of each), so a filter is a substring test and the
counts group the few distinct combinations. The store writes it with every comment; existing rows
are filled here. NULL (a row written by an older worker during an upgrade) reads as its
reason_code alone.

Revision ID: 0011_reason_codes
Revises: 0010_context
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0011_reason_codes"
down_revision = "0010_context"
branch_labels = None
depends_on = None

BATCH = 2000


def _codes(reasons: object) -> str:
    if isinstance(reasons, str):
        reasons = json.loads(reasons)
    codes = [
        r["code"] for r in (reasons if isinstance(reasons, list) else [])
        if isinstance(r, dict) and isinstance(r.get("code"), str) and r["code"] and not re.search(r"\s", r["code"])
    ]  # fmt: skip
    return " " + " ".join(dict.fromkeys(codes)) + " "


def upgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("reason_codes", sa.Text(), nullable=True))
    connection = op.get_bind()
    comments = sa.table("comments", sa.column("id", sa.String), sa.column("reasons", sa.JSON),
                        sa.column("reason_codes", sa.Text))  # fmt: skip
    last = ""
    while True:
        rows = connection.execute(
            sa.select(comments.c.id, comments.c.reasons)
            .where(comments.c.id > last)
            .order_by(comments.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            sa.update(comments).where(comments.c.id == sa.bindparam("row_id")),
            [{"row_id": row.id, "reason_codes": _codes(row.reasons)} for row in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("reason_codes")
