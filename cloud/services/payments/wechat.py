"""WeChat Pay API v3 (微信支付) through the wechatpayv3 SDK: Native (QR) orders, notifications,
refunds.

Notifications are checked by the SDK exactly as WeChat specifies: an RSA-SHA256 signature over
``timestamp\\nnonce\\nbody\\n`` with the platform's public key (public-key mode: the key is
pinned in configuration, nothing is downloaded), then the resource is decrypted with the APIv3
key (AEAD_AES_256_GCM). On top of the SDK we refuse a notification whose timestamp is more than
``MAX_SKEW_S`` away (WeChat's own advice against replays; a replay inside the window is
harmless anyway: settling is idempotent on the transaction id), and one for another merchant.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from wechatpayv3 import WeChatPay, WeChatPayType

from cloud.core.errors import Code, Problem, Thing
from cloud.services.payments.provider import Intent, Notification
from cloud.services.reconciliation import download
from keys.clock import SYSTEM, Clock

MAX_SKEW_S = 300


class WechatPayProvider:
    name = "wechat"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_private_key: str,
        merchant_serial_no: str,
        apiv3_key: str,
        platform_public_key: str,
        platform_public_key_id: str,
        notify_url: str,
        clock: Clock = SYSTEM,
    ) -> None:
        self.mchid = mchid
        self._clock = clock  # judges the notification timestamp's skew
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=mchid,
            private_key=merchant_private_key,
            cert_serial_no=merchant_serial_no,
            appid=appid,
            apiv3_key=apiv3_key,
            notify_url=notify_url,
            public_key=platform_public_key,
            public_key_id=platform_public_key_id,
        )

    def create_intent(self, order_no: str, amount_fen: int, description: str) -> Intent:
        code, message = self._client.pay(
            description=description,
            out_trade_no=order_no,
            amount={"total": amount_fen, "currency": "CNY"},
        )
        if code != 200:
            raise Problem(
                Code.CHANNEL_ERROR,
                channel=Thing.WECHAT_PAY,
                action=Thing.ORDER_REQUEST,
                channel_code=code,
            )
        return Intent(self.name, order_no, amount_fen, pay_url=_json(message).get("code_url"))

    def verify_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            stamp = int(lowered.get("wechatpay-timestamp", "0"))
        except ValueError:
            stamp = 0
        if abs(self._clock.now().timestamp() - stamp) > MAX_SKEW_S:
            raise Problem(Code.STALE_NOTIFICATION)
        try:
            data = self._client.callback(lowered, body)
        except Exception:  # boundary: the SDK raises bare Exceptions for unknown algorithms
            data = None
        if not data:
            raise Problem(Code.BAD_NOTIFICATION_SIGNATURE)
        resource = data.get("resource") or {}
        if resource.get("mchid") not in (None, self.mchid):
            raise Problem(Code.WRONG_MERCHANT)
        try:
            return Notification(
                self.name,
                str(resource["out_trade_no"]),
                str(resource["transaction_id"]),
                int(resource["amount"]["total"]),
                resource.get("trade_state") == "SUCCESS",
                resource,
            )
        except (KeyError, TypeError, ValueError):
            raise Problem(Code.BAD_NOTIFICATION) from None

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str:
        code, message = self._client.refund(
            out_refund_no=refund_no,
            transaction_id=provider_txn,
            amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
        )
        if code not in (200, 201):
            raise Problem(
                Code.CHANNEL_ERROR, channel=Thing.WECHAT_PAY, action=Thing.REFUND, channel_code=code
            )
        return str(_json(message).get("refund_id", refund_no))

    def statement(self, day: date) -> bytes:
        """The day's statement file for reconciliation (services/reconciliation/download.py)."""
        return download.wechat_trade_bill(self._client, day)


def _json(message: Any) -> dict[str, Any]:
    import json

    try:
        value = json.loads(message) if isinstance(message, str) else message
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
