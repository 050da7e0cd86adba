"""money under concurrency: refunds have a state (pending until the channel confirms) and a
refund number sent to the channel; orders can be flagged for staff

Revision ID: 0005_money_pay
Revises: 0004_money_orders
Create Date: 2026-12-01 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_money_pay"
down_revision = "0004_money_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        # Refunds made before this revision were paid out in the same transaction.
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="succeeded")
        )
        batch_op.add_column(sa.Column("refund_no", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_refunds_status"), ["status"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag_reason", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("flag_reason")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_status"))
        batch_op.drop_column("refund_no")
        batch_op.drop_column("status")
