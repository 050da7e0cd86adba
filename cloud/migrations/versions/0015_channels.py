"""reconciliation with the payment channels (statements, lines, mismatches, closed days);
distributor and OTA accounts, prices, balance movements, registered codes, settlements;
members, verification codes, sessions, points, coupons, flash sales

Revision ID: 0015_channels
Revises: 0006_api_hardening
Create Date: 2026-12-04 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_channels"
down_revision = "0009_dashboard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recon_days",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("resolutions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "day", name=op.f("pk_recon_days")),
    )
    op.create_table(
        "recon_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_statements")),
        sa.UniqueConstraint("channel", "day", name="uq_recon_statements_day"),
    )
    op.create_table(
        "recon_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["recon_statements.id"],
            name=op.f("fk_recon_lines_statement_id_recon_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_lines")),
    )
    op.create_index(op.f("ix_recon_lines_statement_id"), "recon_lines", ["statement_id"])
    op.create_table(
        "recon_mismatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("ours_fen", sa.Integer(), nullable=True),
        sa.Column("theirs_fen", sa.Integer(), nullable=True),
        sa.Column("ours_status", sa.String(length=24), nullable=True),
        sa.Column("theirs_status", sa.String(length=24), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_mismatches")),
        sa.UniqueConstraint("channel", "day", "kind", "subject", "key", name="uq_recon_mismatch"),
    )
    op.create_index(op.f("ix_recon_mismatches_day"), "recon_mismatches", ["day"])
    # distributors and OTAs
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("commission_percent", sa.Integer(), nullable=False),
        sa.Column("credit_limit_fen", sa.Integer(), nullable=False),
        sa.Column("balance_fen", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_channel_accounts_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["site"], ["sites.code"], name=op.f("fk_channel_accounts_site_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint("api_key_id", name=op.f("uq_channel_accounts_api_key_id")),
        sa.UniqueConstraint("code", name=op.f("uq_channel_accounts_code")),
    )
    op.create_table(
        "channel_prices",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=True),
        sa.Column("commission_percent", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_prices_account_id_channel_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_channel_prices_product_id_products")
        ),
        sa.PrimaryKeyConstraint("account_id", "product_id", name=op.f("pk_channel_prices")),
    )
    op.create_table(
        "channel_statements",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sales_fen", sa.Integer(), nullable=False),
        sa.Column("refunds_fen", sa.Integer(), nullable=False),
        sa.Column("commission_fen", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=False),
        sa.Column("topups_fen", sa.Integer(), nullable=False),
        sa.Column("balance_fen", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_statements_account_id_channel_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_channel_statements")),
    )
    op.create_table(
        "channel_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("gross_fen", sa.Integer(), nullable=False),
        sa.Column("commission_fen", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=False),
        sa.Column("balance_after_fen", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_movements_account_id_channel_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_channel_movements_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_channel_movements_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_movements")),
    )
    with op.batch_alter_table("channel_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_movements_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_channel_movements_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_channel_movements_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "channel_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("code_ref", sa.LargeBinary(length=8), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_codes_account_id_channel_accounts"),
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name=op.f("fk_channel_codes_site_sites")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_channel_codes_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_codes")),
        sa.UniqueConstraint("site", "code_ref", name="uq_channel_codes_ref"),
    )
    with op.batch_alter_table("channel_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_codes_account_id"), ["account_id"], unique=False
        )
    # members, coupons, flash sales
    op.create_table(
        "member_codes",
        sa.Column("contact_ref", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("contact_ref", name=op.f("pk_member_codes")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_ref", sa.String(length=32), nullable=True),
        sa.Column("contact", sa.LargeBinary(), nullable=True),
        sa.Column("name", sa.LargeBinary(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("spent_fen", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("contact_ref", name=op.f("uq_members_contact_ref")),
    )
    op.create_table(
        "member_sessions",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_sessions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_member_sessions")),
    )
    with op.batch_alter_table("member_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_sessions_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "member_takes",
        sa.Column("offer", sa.String(length=48), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_takes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("offer", "member_id", name=op.f("pk_member_takes")),
    )
    op.create_table(
        "points_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("once_key", sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_points_movements_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_movements")),
        sa.UniqueConstraint("once_key", name=op.f("uq_points_movements_once_key")),
    )
    with op.batch_alter_table("points_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_points_movements_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "coupons",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("min_total_fen", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_limit", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_coupons_product_id_products")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_coupons")),
    )
    op.create_table(
        "flash_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inventory_id", sa.Integer(), nullable=False),
        sa.Column("price_type", sa.String(length=16), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_id"], ["inventory.id"], name=op.f("fk_flash_sales_inventory_id_inventory")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
    )


def downgrade() -> None:
    for table in (
        "member_takes",
        "points_movements",
        "member_sessions",
        "member_codes",
        "flash_sales",
        "coupons",
        "members",
        "channel_codes",
        "channel_movements",
        "channel_statements",
        "channel_prices",
        "channel_accounts",
    ):
        op.drop_table(table)
    op.drop_table("recon_mismatches")
    op.drop_table("recon_lines")
    op.drop_table("recon_statements")
    op.drop_table("recon_days")
