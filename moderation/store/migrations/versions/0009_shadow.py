"""Shadow scoring (issue 15, item 5)

comments.shadow: a nullable JSON column with what the shadow candidate model would have decided
({version, decision, reason_code, reasons, scores, ms}). A column rather than a table: the verdict
belongs to exactly one comment, is written in the same insert (no second statement per request),
goes with the comment on purge and erase, and the review page reads it with the comment.

Revision ID: 0009_shadow
Revises: 0008_web_sessions
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_shadow"
down_revision = "0008_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("shadow", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("shadow")
