"""Neurofeedback in the data centre: courses, sealed sham/real allocations, sessions, outcomes (#22).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nfb_courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=80), nullable=False),
        sa.Column("n_sessions", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("allocation_commitment", sa.String(length=64), nullable=False),
        sa.Column("safety_status", sa.String(length=20), nullable=False),
        sa.Column("safety", sa.JSON(), nullable=False),
        sa.Column("safety_override_by", sa.Integer(), nullable=True),
        sa.Column("safety_override_reason", sa.Text(), nullable=True),
        sa.Column("unblinded_by", sa.Integer(), nullable=True),
        sa.Column("unblinded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unblind_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["safety_override_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unblinded_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_nfb_courses_patient_id"), "nfb_courses", ["patient_id"], unique=False)
    op.create_index(op.f("ix_nfb_courses_site_id"), "nfb_courses", ["site_id"], unique=False)
    op.create_table(
        "nfb_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=10), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("sham_fraction", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["nfb_courses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("course_id"),
    )
    op.create_index(op.f("ix_nfb_allocations_site_id"), "nfb_allocations", ["site_id"], unique=False)
    op.create_table(
        "nfb_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("timepoint", sa.String(length=10), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("via_display", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["nfb_courses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_nfb_outcomes_course_id"), "nfb_outcomes", ["course_id"], unique=False)
    op.create_index(op.f("ix_nfb_outcomes_site_id"), "nfb_outcomes", ["site_id"], unique=False)
    op.create_table(
        "nfb_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("target_reward_fraction", sa.Float(), nullable=True),
        sa.Column("sham_of", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("display_hash", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["nfb_courses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.ForeignKeyConstraint(
            ["started_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint("display_hash"),
    )
    op.create_index(op.f("ix_nfb_sessions_course_id"), "nfb_sessions", ["course_id"], unique=False)
    op.create_index(op.f("ix_nfb_sessions_patient_id"), "nfb_sessions", ["patient_id"], unique=False)
    op.create_index(op.f("ix_nfb_sessions_site_id"), "nfb_sessions", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_nfb_sessions_site_id"), table_name="nfb_sessions")
    op.drop_index(op.f("ix_nfb_sessions_patient_id"), table_name="nfb_sessions")
    op.drop_index(op.f("ix_nfb_sessions_course_id"), table_name="nfb_sessions")
    op.drop_table("nfb_sessions")
    op.drop_index(op.f("ix_nfb_outcomes_site_id"), table_name="nfb_outcomes")
    op.drop_index(op.f("ix_nfb_outcomes_course_id"), table_name="nfb_outcomes")
    op.drop_table("nfb_outcomes")
    op.drop_index(op.f("ix_nfb_allocations_site_id"), table_name="nfb_allocations")
    op.drop_table("nfb_allocations")
    op.drop_index(op.f("ix_nfb_courses_site_id"), table_name="nfb_courses")
    op.drop_index(op.f("ix_nfb_courses_patient_id"), table_name="nfb_courses")
    op.drop_table("nfb_courses")
