"""Face enrolments (人脸登记) of real-name ticket holders: the embedding only, encrypted.

One row per holder of a site (the holder reference a real-name ticket carries, keys/holder.py).
The photo it came from is never stored: the service computes the embedding and forgets the
image. ``embedding_sealed`` is AES-GCM under the personal-data key (services/personal_data.py)
and becomes NULL when the enrolment is deleted (right to be forgotten); the row stays, with
``deleted_at``, as the record that a deletion was sent to the gates.

An annual pass sold online has no photo: the first gate to admit it binds the face it saw and
reports it sealed (keys/face_binding.py). Such a row has ``source`` "gate" and ``bound_by`` the
node; the first binding of a holder wins (services/face_binding.py), later ones from other
gates are compared with it, never written over it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class FaceEnrolment(Base):
    __tablename__ = "face_enrolments"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder_ref: Mapped[bytes] = mapped_column(LargeBinary(8), primary_key=True)
    ticket_id: Mapped[bytes] = mapped_column(LargeBinary(8), index=True)
    source: Mapped[str] = mapped_column(String(16))  # purchase | window | gate
    embedding_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bound_by: Mapped[str | None] = mapped_column(String(32))  # the node, for source "gate"
