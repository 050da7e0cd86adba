"""reconciliation with the payment channels: statements, their lines, mismatches, closed days

Revision ID: 0015_channels
Revises: 0006_api_hardening
Create Date: 2026-12-04 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_channels"
down_revision = "0006_api_hardening"
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


def downgrade() -> None:
    op.drop_table("recon_mismatches")
    op.drop_table("recon_lines")
    op.drop_table("recon_statements")
    op.drop_table("recon_days")
