"""index comments by author and status

Author history counts an author's approved and rejected comments on every submission; without
this index SQLite picks the status index and scans every approved comment.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index("ix_comments_email_status", ["email_key", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_email_status")
