"""Alembic environment: runs migrations on the connection `moderation db upgrade` passes in."""

from alembic import context

from moderation.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    from moderation.store.database import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
