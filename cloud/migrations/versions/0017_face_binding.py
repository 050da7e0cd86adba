"""face bindings made at a gate's first entry: face_enrolments.bound_by (the node that bound
it; NULL for an enrolment from a photo at purchase or at the window)

Revision ID: 0017_face_binding
Revises: 0016_revshare
Create Date: 2026-12-05 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_face_binding"
down_revision = "0016_revshare"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("face_enrolments") as batch:
        batch.add_column(sa.Column("bound_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("face_enrolments") as batch:
        batch.drop_column("bound_by")
