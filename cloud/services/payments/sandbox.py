"""The sandbox channel: payments for demos and tests, with the same verification path as a
real one. Its "platform" signs notifications with HMAC-SHA256 under a secret only the cloud
and the sandbox know; a forged, altered or replayed notification is handled exactly as a real
channel's would be (rejected, or idempotently ignored)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from cloud.core.errors import Code, Problem
from cloud.services.payments.provider import Intent, Notification

SIGNATURE_HEADER = "x-sandbox-signature"


class SandboxProvider:
    name = "sandbox"

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def create_intent(self, order_no: str, amount_fen: int, description: str) -> Intent:
        return Intent(
            self.name,
            order_no,
            amount_fen,
            pay_url=f"/api/v1/sandbox/pay/{order_no}",
            details={"description": description},
        )

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def simulate_payment(
        self, order_no: str, amount_fen: int, txn: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """What the sandbox platform would POST to the notify URL when the buyer pays."""
        body = json.dumps(
            {
                "order_no": order_no,
                "txn": txn or "SBX" + secrets.token_hex(8),
                "amount_fen": amount_fen,
                "status": "SUCCESS",
            }
        ).encode()
        return {SIGNATURE_HEADER: self.sign(body)}, body

    def verify_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        signature = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(signature, self.sign(body)):
            raise Problem(Code.BAD_NOTIFICATION_SIGNATURE)
        try:
            data = json.loads(body)
            return Notification(
                self.name,
                str(data["order_no"]),
                str(data["txn"]),
                int(data["amount_fen"]),
                data["status"] == "SUCCESS",
                data,
            )
        except (ValueError, KeyError, TypeError):
            raise Problem(Code.BAD_NOTIFICATION) from None

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str:
        if amount_fen > total_fen:
            raise Problem(Code.REFUND_TOO_LARGE)
        return "SBXRF" + hashlib.sha256(refund_no.encode()).hexdigest()[:12]
