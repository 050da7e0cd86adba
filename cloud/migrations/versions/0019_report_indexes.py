"""indexes for the reports and the dashboard: gate events by site, kind and time; tickets by
inventory row and by last valid day; orders by site and time paid

Found with EXPLAIN (PostgreSQL) and EXPLAIN QUERY PLAN (SQLite) on bench/reports.py's day:
the reports and the dashboard's curves read a site's uses or passages in a range (PostgreSQL
walked the whole site through the (site, node, seq) key, SQLite the ``at`` index), the
dashboard summed tickets per inventory row by scanning every ticket, the entries report's
ticket lookup filters on the validity range, and sales read a site's orders paid in a range.

Revision ID: 0019_report_indexes
Revises: 0018_annual_passes
Create Date: 2026-12-05 08:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0019_report_indexes"
down_revision = "0018_annual_passes"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_gate_events_site_kind_at", "gate_events", ["site", "kind", "at"]),
    ("ix_tickets_inventory_id", "tickets", ["inventory_id"]),
    ("ix_tickets_valid_until", "tickets", ["valid_until"]),
    ("ix_orders_site_paid_at", "orders", ["site", "paid_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
