"""one ID, one ticket by constraint (holder_claims); the client address of anonymous orders

Revision ID: 0004_money_orders
Revises: 0003
Create Date: 2026-12-01 21:40:00

Existing IDs are claimed from the tickets still valid and the orders still pending, so the
rule holds for what was sold before the upgrade too; where the old code let one ID buy twice
(the bug this fixes), the earliest order keeps the claim.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_money_orders"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holder_claims",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("holder_ref", sa.LargeBinary(length=8), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_holder_claims_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_holder_claims_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", "day", "holder_ref", name=op.f("pk_holder_claims")),
    )
    with op.batch_alter_table("holder_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holder_claims_order_id"), ["order_id"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_orders_client"), ["client"], unique=False)
    _claim_what_was_sold()


def _claim_what_was_sold() -> None:
    connection = op.get_bind()
    claims: dict[tuple[int, object, bytes], int] = {}
    for product_id, day, ref, order_id in connection.execute(
        sa.text(
            "SELECT product_id, valid_from, holder_ref, order_id FROM tickets"
            " WHERE status = 'valid' AND holder_ref IS NOT NULL ORDER BY order_id"
        ).columns(valid_from=sa.Date())
    ):
        claims.setdefault((product_id, day, bytes(ref)), order_id)
    for order_id, product_id, day, holders in connection.execute(
        sa.text(
            "SELECT o.id, i.product_id, v.day, i.holders FROM orders o"
            " JOIN order_items i ON i.order_id = o.id JOIN inventory v ON v.id = i.inventory_id"
            " WHERE o.status = 'pending' AND i.holders IS NOT NULL ORDER BY o.id"
        ).columns(day=sa.Date(), holders=sa.JSON())
    ):
        for holder in holders or []:
            claims.setdefault((product_id, day, bytes.fromhex(holder["ref"])), order_id)
    table = sa.table(
        "holder_claims",
        sa.column("product_id", sa.Integer()),
        sa.column("day", sa.Date()),
        sa.column("holder_ref", sa.LargeBinary()),
        sa.column("order_id", sa.Integer()),
    )
    if claims:
        op.bulk_insert(
            table,
            [
                {"product_id": p, "day": d, "holder_ref": r, "order_id": o}
                for (p, d, r), o in claims.items()
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_client"))
        batch_op.drop_column("client")
    with op.batch_alter_table("holder_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holder_claims_order_id"))
    op.drop_table("holder_claims")
