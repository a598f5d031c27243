"""Event reviews: a reviewer's accept/reject of each detected event (the viewer's triage).

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-06 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=400), nullable=False),
        sa.Column("onset", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["analysis_id"], ["analyses.id"]),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("analysis_id", "event_key", name="uq_event_reviews_analysis_event"),
    )
    with op.batch_alter_table("event_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_reviews_analysis_id"), ["analysis_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_reviews_recording_id"), ["recording_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_reviews_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_reviews_site_id"))
        batch_op.drop_index(batch_op.f("ix_event_reviews_recording_id"))
        batch_op.drop_index(batch_op.f("ix_event_reviews_analysis_id"))
    op.drop_table("event_reviews")
