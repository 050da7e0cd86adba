"""face enrolments: embeddings of real-name ticket holders, encrypted, never the photo

Revision ID: 0012_face
Revises: 0006_api_hardening
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_face"
down_revision = "0008_card_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_enrolments",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("holder_ref", sa.LargeBinary(length=8), nullable=False),
        sa.Column("ticket_id", sa.LargeBinary(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("embedding_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("site", "holder_ref"),
    )
    op.create_index(
        op.f("ix_face_enrolments_ticket_id"), "face_enrolments", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_face_enrolments_ticket_id"), table_name="face_enrolments")
    op.drop_table("face_enrolments")
