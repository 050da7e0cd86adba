"""card index: the ID and RFID cards that open tickets, published to the gates as deltas

Revision ID: 0008_card_index
Revises: 0006_api_hardening
Create Date: 2026-12-04 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_card_index"
down_revision = "0007_provisioning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("holder_ref", sa.LargeBinary(length=32), nullable=False),
        sa.Column("ticket_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("added_seq", sa.Integer(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("removed_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_entries")),
        sa.UniqueConstraint("site", "holder_ref", "ticket_id", name="uq_card_entries_card_ticket"),
    )
    with op.batch_alter_table("card_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_entries_site"), ["site"], unique=False)
        batch_op.create_index(batch_op.f("ix_card_entries_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_entries_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_card_entries_site"))
    op.drop_table("card_entries")
