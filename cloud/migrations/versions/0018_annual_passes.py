"""annual passes (年卡): passes, their renewals, renewal rules per product; order items that
hold no place (a renewal's)

Revision ID: 0018_annual_passes
Revises: 0017_face_binding
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_annual_passes"
down_revision = "0017_face_binding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch: on SQLite a batch copies order_items into a new table
    # and drops the old one, which sold tickets (their foreign keys) forbid.
    op.add_column(
        "order_items",
        sa.Column("holds_place", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.create_table(
        "pass_rules",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("renew_before_days", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("lapse_limit_days", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=True),
        sa.Column("level_discounts", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_pass_rules_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_pass_rules")),
    )
    op.create_table(
        "annual_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("holder_ref", sa.LargeBinary(length=8), nullable=True),
        sa.Column("holder_name", sa.LargeBinary(), nullable=True),
        sa.Column("holder_contact", sa.LargeBinary(), nullable=True),
        sa.Column("contact_ref", sa.String(length=32), nullable=True),
        sa.Column("first_ticket_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("face_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_annual_passes_site_sites")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_annual_passes_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_annual_passes_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["first_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_annual_passes_first_ticket_id_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_annual_passes_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annual_passes")),
        sa.UniqueConstraint("first_ticket_id", name=op.f("uq_annual_passes_first_ticket_id")),
    )
    for column in ("site", "member_id", "holder_ref", "contact_ref"):
        op.create_index(op.f(f"ix_annual_passes_{column}"), "annual_passes", [column], unique=False)
    op.create_table(
        "pass_renewals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seen_version", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("from_ticket_id", sa.Integer(), nullable=False),
        sa.Column("to_ticket_id", sa.Integer(), nullable=True),
        sa.Column("prev_valid_from", sa.Date(), nullable=False),
        sa.Column("prev_valid_until", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["annual_passes.id"], name=op.f("fk_pass_renewals_pass_id_annual_passes")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_pass_renewals_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["from_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_pass_renewals_from_ticket_id_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_pass_renewals_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["to_ticket_id"], ["tickets.id"], name=op.f("fk_pass_renewals_to_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_renewals")),
        sa.UniqueConstraint("order_id", name=op.f("uq_pass_renewals_order_id")),
    )
    op.create_index(op.f("ix_pass_renewals_pass_id"), "pass_renewals", ["pass_id"], unique=False)
    op.create_index(
        op.f("ix_pass_renewals_to_ticket_id"), "pass_renewals", ["to_ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("pass_renewals")
    op.drop_table("annual_passes")
    op.drop_table("pass_rules")
    with op.batch_alter_table("order_items") as batch:
        batch.drop_column("holds_place")
