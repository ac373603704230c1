"""Moderators' notes about authors and actions on them: ban, premoderate, suspend (issue 13)

author_notes: free-text notes per author email; author_actions: each action with who, when and why
it was taken and lifted.

Revision ID: 0007_authors
Revises: 0006_workspace
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_authors"
down_revision = "0006_workspace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "author_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_author_notes_email", "author_notes", ["email_key", "created_at"], unique=False)
    op.create_table(
        "author_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("block_entry_ids", sa.JSON(), nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.Integer(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"]),
        sa.ForeignKeyConstraint(["lifted_by"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_author_actions_email", "author_actions", ["email_key", "lifted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_author_actions_email", table_name="author_actions")
    op.drop_table("author_actions")
    op.drop_index("ix_author_notes_email", table_name="author_notes")
    op.drop_table("author_notes")
