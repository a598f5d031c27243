"""Site-scoped administration: users.site_id may be NULL, for the instance-level administrator only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a column's nullability in place (the table is copied).
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Instance administrators have no site and cannot survive the downgrade.
    op.execute("DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE site_id IS NULL)")
    op.execute("DELETE FROM user_sessions WHERE user_id IN (SELECT id FROM users WHERE site_id IS NULL)")
    op.execute("DELETE FROM users WHERE site_id IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
