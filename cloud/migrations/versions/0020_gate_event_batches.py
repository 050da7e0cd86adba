"""gate events signed in batches: gate_event_batches keeps each batch's signed bytes once;
gate_events.batch names it (SHA-256) and gate_events.raw is NULL for such an event

Gates sign the events pending at one uplink pump together (keys/gate_event_batch.py): one
signature check per batch is what lets two ingest workers pass 8,000 events/s. The proof of a
batched event is the batch (verified with the node's key, it holds the event); copying the
batch into each of its up to 64 rows would multiply the stored bytes by as much.

Revision ID: 0020_gate_event_batches
Revises: 0019_report_indexes
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_gate_event_batches"
down_revision = "0019_report_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_event_batches",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_gate_event_batches")),
    )
    with op.batch_alter_table("gate_events") as batch:
        batch.add_column(sa.Column("batch", sa.LargeBinary(length=32), nullable=True))
        batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Batched events have no bytes of their own: give each its batch's (still a proof, larger).
    op.execute(
        "UPDATE gate_events SET raw = (SELECT b.raw FROM gate_event_batches b"
        " WHERE b.digest = gate_events.batch) WHERE raw IS NULL"
    )
    with op.batch_alter_table("gate_events") as batch:
        batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("batch")
    op.drop_table("gate_event_batches")
