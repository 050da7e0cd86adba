"""WeChat Pay and Alipay notifications through their real SDKs, with keys made here (no network).

The "platform" side below does what WeChat and Alipay do: sign (RSA-SHA256 / RSA2) and, for
WeChat, encrypt the resource with the merchant's APIv3 key (AES-256-GCM).
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from cloud.core.errors import Problem
from cloud.models import Order
from cloud.services.orders import LineRequest, create_order
from cloud.services.payments.alipay import AlipayProvider, _fen
from cloud.services.payments.settle import apply_payment
from cloud.services.payments.wechat import WechatPayProvider
from tests.cloud.conftest import SALT, now
from tests.conftest import TEST_AT

APIV3 = "0123456789abcdef0123456789abcdef"  # 32 characters, as WeChat issues them


def rsa_pair() -> tuple[rsa.RSAPrivateKey, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, private, public


@pytest.fixture(scope="module")
def keys():
    return {"merchant": rsa_pair(), "platform": rsa_pair(), "impostor": rsa_pair()}


@pytest.fixture
def wechat(keys, clock) -> WechatPayProvider:
    return WechatPayProvider(
        mchid="1900000001",
        appid="wx0000000000000001",
        merchant_private_key=keys["merchant"][1],
        merchant_serial_no="ABC1",
        apiv3_key=APIV3,
        platform_public_key=keys["platform"][2],
        platform_public_key_id="PUB_KEY_ID_0001",
        notify_url="https://tickets.example/api/v1/payments/wechat/notify",
        clock=clock,
    )


def wechat_notice(
    signer: rsa.RSAPrivateKey,
    order_no: str,
    total: int,
    txn: str = "4200001",
    apiv3: str = APIV3,
    stamp: int | None = None,
    mchid: str = "1900000001",
):
    resource = json.dumps(
        {
            "mchid": mchid,
            "out_trade_no": order_no,
            "transaction_id": txn,
            "trade_state": "SUCCESS",
            "amount": {"total": total, "payer_total": total, "currency": "CNY"},
        }
    )
    nonce = os.urandom(6).hex()  # 12 characters, used as the AES-GCM nonce
    sealed = AESGCM(apiv3.encode()).encrypt(nonce.encode(), resource.encode(), b"transaction")
    body = json.dumps(
        {
            "id": "EV-1",
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "transaction",
                "ciphertext": base64.b64encode(sealed).decode(),
            },
        }
    )
    timestamp = str(stamp or int(TEST_AT.timestamp()))  # the provider clock's now
    sign_nonce = os.urandom(8).hex()
    message = f"{timestamp}\n{sign_nonce}\n{body}\n".encode()
    signature = base64.b64encode(signer.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    headers = {
        "Wechatpay-Signature": signature.decode(),
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": sign_nonce,
        "Wechatpay-Serial": "PUB_KEY_ID_0001",
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body.encode()


def pending_order(office) -> tuple[str, int]:
    with office.sessions.begin() as session:
        order = create_order(
            session,
            site="S1",
            lines=[LineRequest(office.day_ticket, "adult", 2)],
            channel="web",
            contact=None,
            pd=office.pd,
            holder_salt=SALT,
            now=now(),
        )
        return order.order_no, order.total_fen


def settle(office, provider, note):
    with office.sessions.begin() as session:
        return apply_payment(session, note, office.issuer, now())


def test_a_wechat_notification_verified_by_the_sdk_pays_the_order_once(office, wechat, keys):
    order_no, total = pending_order(office)
    headers, body = wechat_notice(keys["platform"][0], order_no, total)
    note = wechat.verify_notification(headers, body)
    assert (note.order_no, note.amount_fen, note.paid) == (order_no, total, True)
    assert settle(office, wechat, note).status == "paid"
    again = wechat.verify_notification(headers, body)  # WeChat retries until answered
    assert settle(office, wechat, again).status == "already_applied"
    with office.sessions() as session:
        assert session.scalar(select(Order.status).where(Order.order_no == order_no)) == "paid"


@pytest.mark.parametrize("tamper", ["impostor", "body", "apiv3", "stale", "merchant", "algo"])
def test_forged_or_altered_wechat_notifications_are_refused(wechat, keys, tamper):
    signer = keys["impostor"][0] if tamper == "impostor" else keys["platform"][0]
    headers, body = wechat_notice(
        signer,
        "20261124000001",
        16000,
        apiv3="ffffffffffffffffffffffffffffffff" if tamper == "apiv3" else APIV3,
        stamp=int(TEST_AT.timestamp()) - 3600 if tamper == "stale" else None,
        mchid="1900000999" if tamper == "merchant" else "1900000001",
    )
    if tamper == "body":
        body = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESZ")
    if tamper == "algo":
        headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2"
    with pytest.raises(Problem) as info:
        wechat.verify_notification(headers, body)
    assert info.value.status == 400


def test_a_wechat_amount_that_differs_from_the_order_changes_nothing(office, wechat, keys):
    order_no, total = pending_order(office)
    note = wechat.verify_notification(*wechat_notice(keys["platform"][0], order_no, total - 100))
    with pytest.raises(Problem) as info:
        settle(office, wechat, note)
    assert info.value.code == "amount_mismatch"


@pytest.fixture
def alipay(keys) -> AlipayProvider:
    return AlipayProvider(
        appid="2021000000000001",
        app_private_key=keys["merchant"][1],
        alipay_public_key=keys["platform"][2],
        notify_url="https://tickets.example/api/v1/payments/alipay/notify",
        sandbox=True,
    )


def alipay_notice(
    signer: rsa.RSAPrivateKey,
    order_no: str,
    yuan: str,
    appid="2021000000000001",
    status="TRADE_SUCCESS",
) -> bytes:
    fields = {
        "app_id": appid,
        "out_trade_no": order_no,
        "trade_no": "2026112422001",
        "total_amount": yuan,
        "trade_status": status,
        "notify_time": "2026-11-24 10:00:00",
        "charset": "utf-8",
        "version": "1.0",
    }
    message = "&".join(f"{k}={v}" for k, v in sorted(fields.items())).encode()
    sign = base64.b64encode(signer.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    return urlencode({**fields, "sign": sign, "sign_type": "RSA2"}).encode()


def test_an_alipay_notification_verified_by_the_sdk_pays_the_order(office, alipay, keys):
    order_no, total = pending_order(office)
    note = alipay.verify_notification({}, alipay_notice(keys["platform"][0], order_no, "160.00"))
    assert note.amount_fen == total == 16000 and note.paid
    assert settle(office, alipay, note).status == "paid"


@pytest.mark.parametrize("tamper", ["impostor", "amount", "app"])
def test_forged_or_altered_alipay_notifications_are_refused(alipay, keys, tamper):
    signer = keys["impostor"][0] if tamper == "impostor" else keys["platform"][0]
    body = alipay_notice(
        signer,
        "20261124000001",
        "160.00",
        appid="2021000000000999" if tamper == "app" else "2021000000000001",
    )
    if tamper == "amount":
        body = body.replace(b"total_amount=160.00", b"total_amount=1.60")
    with pytest.raises(Problem) as info:
        alipay.verify_notification({}, body)
    assert info.value.status == 400


def test_alipay_amounts_become_fen_exactly():
    assert _fen("88.00") == 8800 and _fen("0.01") == 1
    with pytest.raises(Problem):
        _fen("1.005")


def test_configured_channels_load_from_sealed_secrets(tmp_path, keys, clock):
    from cloud.api.context import channels
    from keys import keystore

    state, passphrase = tmp_path, b"a long cloud passphrase"
    (state / "keys").mkdir()
    keystore.save_secret(
        keys["merchant"][1].encode(),
        state / "keys/wechat-merchant.secret",
        passphrase,
        "wechat merchant key",
    )
    keystore.save_secret(
        APIV3.encode(), state / "keys/wechat-apiv3.secret", passphrase, "wechat apiv3 key"
    )
    keystore.save_secret(
        keys["merchant"][1].encode(), state / "keys/alipay-app.secret", passphrase, "alipay app key"
    )
    (state / "wechat-platform.pem").write_text(keys["platform"][2])
    (state / "alipay-public.pem").write_text(keys["platform"][2])
    (state / "channels.json").write_text(
        json.dumps(
            {
                "wechat": {
                    "mchid": "1900000001",
                    "appid": "wx1",
                    "merchant_serial_no": "ABC1",
                    "platform_public_key_file": "wechat-platform.pem",
                    "platform_public_key_id": "PUB_KEY_ID_0001",
                    "notify_url": "https://t.example/n",
                },
                "alipay": {
                    "appid": "2021000000000001",
                    "alipay_public_key_file": "alipay-public.pem",
                    "notify_url": "https://t.example/a",
                    "sandbox": True,
                },
            }
        )
    )
    loaded = channels(state, passphrase, clock)
    assert set(loaded) == {"wechat", "alipay"}
    headers, body = wechat_notice(keys["platform"][0], "20261124000001", 100)
    assert loaded["wechat"].verify_notification(headers, body).amount_fen == 100
