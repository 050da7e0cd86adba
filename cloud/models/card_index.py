"""The card index the cloud keeps for the gates: which ID card or RFID card opens which ticket.

One row per (site, holder reference, ticket). ``added_seq`` is the card index delta that first
told the gates (None: not yet published); ``removed`` marks a refunded or changed ticket, and
``removed_seq`` the delta that told the gates (None: not yet). cloud/services/card_index.py
writes and publishes them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class CardEntry(Base):
    __tablename__ = "card_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # id_card | rfid (keys/holder.py KINDS)
    holder_ref: Mapped[bytes] = mapped_column(LargeBinary(32))
    ticket_id: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    text: Mapped[str] = mapped_column(Text)  # the ticket's signed text, as the gates verify it
    last_day: Mapped[date] = mapped_column(Date)  # dropped from snapshots after this day
    added_seq: Mapped[int | None] = mapped_column()
    removed: Mapped[bool] = mapped_column(default=False)
    removed_seq: Mapped[int | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("site", "holder_ref", "ticket_id", name="uq_card_entries_card_ticket"),
    )
