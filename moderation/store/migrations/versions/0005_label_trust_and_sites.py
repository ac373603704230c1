"""labels.trust (who may be believed) and api_keys.site (whose history an author's comments count in)

A label linked to a stored comment came from a moderator's review or from the client that sent the
comment; one without a comment was reported by a client about a text we never saw. Existing rows are
migrated by that rule: no comment, unverified; a comment, trusted. Every existing key becomes its
own site, named after its prefix, as new keys are unless the operator names a site.

Revision ID: 0005_trust
Revises: 0004_language
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_trust"
down_revision = "0004_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trust", sa.String(length=16), nullable=False, server_default="trusted"))
        batch_op.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_labels_reviewed_by", "api_keys", ["reviewed_by"], ["id"])
        batch_op.create_index("ix_labels_trust_id", ["trust", "id"], unique=False)
        batch_op.create_index("ix_labels_key_created", ["key_id", "created_at"], unique=False)
    op.execute(sa.text("UPDATE labels SET trust = 'unverified' WHERE comment_id IS NULL"))

    # A plain ADD COLUMN with a default, never a batch copy of api_keys: on SQLite that copy drops the
    # table every comment, review and label refers to, which its foreign keys refuse.
    op.add_column("api_keys", sa.Column("site", sa.String(length=100), nullable=False, server_default=""))
    op.execute(sa.text("UPDATE api_keys SET site = 'key-' || prefix"))
    op.create_index("ix_api_keys_site", "api_keys", ["site"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_keys_site", table_name="api_keys")
    op.drop_column("api_keys", "site")  # SQLite 3.35+ drops a column in place
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index("ix_labels_key_created")
        batch_op.drop_index("ix_labels_trust_id")
        batch_op.drop_constraint("fk_labels_reviewed_by", type_="foreignkey")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("trust")
