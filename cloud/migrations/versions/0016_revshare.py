"""points taken back on refunds (points_movements.fen); revenue shares with partner
attractions in package tickets: partners, package components, share lines, partner statements

Revision ID: 0016_revshare
Revises: 0015_channels
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_revshare"
down_revision = "0015_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("points_movements") as batch:
        batch.add_column(sa.Column("fen", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "partner_attractions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("settlement_account", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["site"], ["sites.code"], name=op.f("fk_partner_attractions_site_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_attractions")),
        sa.UniqueConstraint("code", name=op.f("uq_partner_attractions_code")),
    )
    op.create_table(
        "package_components",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("share_fen", sa.Integer(), nullable=True),
        sa.Column("share_bp", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner_attractions.id"],
            name=op.f("fk_package_components_partner_id_partner_attractions"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_package_components_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", "partner_id", name=op.f("pk_package_components")),
    )
    op.create_table(
        "share_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_share_lines_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner_attractions.id"],
            name=op.f("fk_share_lines_partner_id_partner_attractions"),
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_share_lines_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_share_lines_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_lines")),
        sa.UniqueConstraint("ticket_id", "partner_id", "kind", name="uq_share_lines_once"),
    )
    for column in ("partner_id", "ticket_id", "order_id", "at"):
        op.create_index(op.f(f"ix_share_lines_{column}"), "share_lines", [column])
    op.create_table(
        "partner_statements",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sales_fen", sa.Integer(), nullable=False),
        sa.Column("refunds_fen", sa.Integer(), nullable=False),
        sa.Column("owed_fen", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner_attractions.id"],
            name=op.f("fk_partner_statements_partner_id_partner_attractions"),
        ),
        sa.PrimaryKeyConstraint("partner_id", "day", name=op.f("pk_partner_statements")),
    )


def downgrade() -> None:
    op.drop_table("partner_statements")
    for column in ("partner_id", "ticket_id", "order_id", "at"):
        op.drop_index(op.f(f"ix_share_lines_{column}"), table_name="share_lines")
    op.drop_table("share_lines")
    op.drop_table("package_components")
    op.drop_table("partner_attractions")
    with op.batch_alter_table("points_movements") as batch:
        batch.drop_column("fen")
