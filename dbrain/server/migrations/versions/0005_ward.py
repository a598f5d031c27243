"""The live ward: beds, the alarms their monitors raise, and clinicians' acknowledgements (docs/ward.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ward_beds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "name", name="uq_ward_beds_site_name"),
    )
    with op.batch_alter_table("ward_beds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ward_beds_site_id"), ["site_id"], unique=False)
    op.create_table(
        "ward_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("bed_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("raised", sa.Float(), nullable=False),
        sa.Column("onset", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_by", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["bed_id"], ["ward_beds.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["posted_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bed_id", "uuid", name="uq_ward_alarms_bed_uuid"),
    )
    with op.batch_alter_table("ward_alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ward_alarms_bed_id"), ["bed_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ward_alarms_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ward_alarms_recording_id"), ["recording_id"], unique=False)
    op.create_table(
        "ward_acks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["alarm_id"], ["ward_alarms.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alarm_id"),
    )
    with op.batch_alter_table("ward_acks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ward_acks_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ward_acks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ward_acks_site_id"))
    op.drop_table("ward_acks")
    with op.batch_alter_table("ward_alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ward_alarms_recording_id"))
        batch_op.drop_index(batch_op.f("ix_ward_alarms_site_id"))
        batch_op.drop_index(batch_op.f("ix_ward_alarms_bed_id"))
    op.drop_table("ward_alarms")
    with op.batch_alter_table("ward_beds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ward_beds_site_id"))
    op.drop_table("ward_beds")
