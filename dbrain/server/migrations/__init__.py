"""Alembic migrations of the data-centre tables (run by :func:`dbrain.server.db.migrate`)."""
