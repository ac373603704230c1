"""Server-side sessions for the moderators' review page (issue 13)

web_sessions: one row per sign-in, so that signing out, expiry and a revoked key end it whatever
copy of the cookie is presented.

Revision ID: 0008_web_sessions
Revises: 0007_authors
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_web_sessions"
down_revision = "0007_authors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_sessions_key_id", "web_sessions", ["key_id"], unique=False)
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_sessions_expires", table_name="web_sessions")
    op.drop_index("ix_web_sessions_key_id", table_name="web_sessions")
    op.drop_table("web_sessions")
