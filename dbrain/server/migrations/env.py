"""Alembic environment: runs on the connection :func:`dbrain.server.db.migrate` passes in."""

from alembic import context

from dbrain.server.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # The ledger's tables share the database but are not Alembic's.
    include_name=lambda name, type_, parent: not (type_ == "table" and str(name).startswith("ledger_")),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
