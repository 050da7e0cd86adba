"""dashboard: gate alarms with acknowledgement, staff preferences, change notifications

Revision ID: 0009_dashboard
Revises: 0006_api_hardening
Create Date: 2026-12-04 16:00:00

On PostgreSQL, statement-level triggers on the tables the dashboard shows send
``NOTIFY scenic_dashboard`` when they change; the notification is delivered at commit, to every
``serve`` worker listening (cloud/dashboard/live.py), whichever process wrote. PostgreSQL folds
identical notifications of one transaction into one, so a batch of 500 events costs one.
The payload is the table's schema: a listener counts only its own schema's notifications, since
NOTIFY reaches every session of the database. SQLite has no NOTIFY: there the workers poll
``PRAGMA data_version`` instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_dashboard"
down_revision = "0010_staff_ops"
branch_labels = None
depends_on = None

CHANNEL = "scenic_dashboard"
WATCHED = (
    "gate_events",
    "alarms",
    "node_links",
    "orders",
    "payments",
    "refunds",
    "inventory",
    "cashier_shifts",
    "devices",
)


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alarm", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("acked_by", sa.String(length=64), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        sa.UniqueConstraint("site", "node", "seq", name="uq_alarms_event"),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarms_status"), ["status"], unique=False)
    op.create_table(
        "staff_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_preferences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_preferences")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION scenic_dashboard_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA); RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_dashboard AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION scenic_dashboard_notify()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_dashboard ON {table}")
        op.execute("DROP FUNCTION IF EXISTS scenic_dashboard_notify()")
    op.drop_table("staff_preferences")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarms_status"))
    op.drop_table("alarms")
