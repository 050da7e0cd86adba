"""What every payment channel does for the ticket office, and what it reports back.

A provider makes a payment intent for an order (a QR code URL, a JSAPI prepay id, a page to
redirect to), verifies the notifications its platform sends (signature, decryption) into a
``Notification``, and refunds. Verification failures raise ``Problem`` (400) and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Notification:
    """A platform's word that money moved: verified, in fen."""

    provider: str
    order_no: str
    provider_txn: str
    amount_fen: int
    paid: bool
    raw: dict[str, Any]


@dataclass(frozen=True)
class Intent:
    """How the buyer pays an order through a channel: a link or the client's parameters."""

    provider: str
    order_no: str
    amount_fen: int
    pay_url: str | None = None
    details: dict[str, Any] | None = None


class Provider(Protocol):
    """A payment channel: makes intents, verifies its platform's notifications, refunds.

    Never changes anything for a notification it cannot verify (``Problem``, 400)."""

    name: str

    def create_intent(self, order_no: str, amount_fen: int, description: str) -> Intent: ...

    def verify_notification(self, headers: dict[str, str], body: bytes) -> Notification: ...

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str: ...
