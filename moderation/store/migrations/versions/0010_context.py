"""Context for moderators (issue 13): the post's title and address as the CMS sent them

comments.post_title, comments.post_url: shown on the review card as a link to the post. The reply
context (parent_id) was stored from the start; it is looked up per client key by client_comment_id,
which the (client_key_id, client_comment_id) unique constraint already indexes.

Revision ID: 0010_context
Revises: 0009_shadow
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_context"
down_revision = "0009_shadow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("post_title", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("post_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("post_url")
        batch.drop_column("post_title")
