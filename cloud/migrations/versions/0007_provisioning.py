"""provisioning: enrolment tokens, device key history, device software version and last seen

Revision ID: 0007_provisioning
Revises: 0006_api_hardening
Create Date: 2026-12-04 16:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_provisioning"
down_revision = "0006_api_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("software_version", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "device_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("software_version", sa.String(length=32), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_keys")),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_site"), ["site"], unique=False)
    op.create_table(
        "enrolment_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("zone", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_key", sa.LargeBinary(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrolment_tokens_token_hash")),
    )
    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_tokens_site"), ["site"], unique=False)


def downgrade() -> None:
    op.drop_table("enrolment_tokens")
    op.drop_table("device_keys")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("software_version")
