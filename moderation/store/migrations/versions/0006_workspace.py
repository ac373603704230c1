"""Changeable decisions, rejection reasons and reader reports (issue 13)

comments.review_reason / review_note: the current decision's reason and note; reviews.from_status /
to_status / reason: what each action changed; reports: readers' reports, one per reader per comment.

Revision ID: 0006_workspace
Revises: 0005_label_trust
"""


import sqlalchemy as sa
from alembic import op

revision = "0006_workspace"
down_revision = "0005_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("to_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.String(length=32), nullable=False),
        sa.Column("client_key_id", sa.Integer(), nullable=False),
        sa.Column("reporter", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_review", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("comment_id", "reporter", name="uq_reports_comment_reporter"),
    )
    op.create_index("ix_reports_open", "reports", ["comment_id", "resolved_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reports_open", table_name="reports")
    op.drop_table("reports")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("to_status")
        batch_op.drop_column("from_status")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("review_note")
        batch_op.drop_column("review_reason")
