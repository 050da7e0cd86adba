"""Everything a request may need, built once at start: database, keys, channels, publisher.

Keys and secrets live encrypted in ``$SCENIC_STATE_DIR/keys`` (``scenic-cloud keys init`` makes
them): the root key (signs what the gates trust), the issuer key (signs tickets), the
personal-data key, the holder salt and the sandbox channel's secret. They are decrypted here,
once, with the passphrase from the environment; a missing file or a wrong passphrase stops the
start with one line saying what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.config import ApiSettings, Settings
from cloud.db import make_engine, session_factory
from cloud.services import issuer_keys
from cloud.services.holds import HoldLimits
from cloud.services.issuing import Issuer
from cloud.services.payments.cash import CashProvider
from cloud.services.payments.provider import Provider
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.clock import SYSTEM, Clock
from keys.keyring import IssuerKey

Publish = Callable[[str, str, bytes], None]  # site, document type, signed bytes

SECRETS = {
    "data": ("data.secret", "data key", 32),
    "salt": ("holder.secret", "holder salt", 16),
    "sandbox": ("sandbox.secret", "sandbox secret", 32),
}
# Payment-channel secrets an operator brings (scenic-cloud keys seal NAME --from FILE).
CHANNEL_SECRETS = {
    "wechat-merchant": "wechat merchant key",
    "wechat-apiv3": "wechat apiv3 key",
    "alipay-app": "alipay app key",
}


@dataclass
class CloudContext:
    engine: Engine
    sessions: sessionmaker[Session]
    root: keystore.SigningKey
    issuer: Issuer
    pd: PersonalData
    providers: dict[str, Provider]
    keyring: list[IssuerKey] = field(default_factory=list)  # every key tickets may carry
    publish: Publish = lambda site, doc_type, raw: None
    clock: Clock = SYSTEM  # every request's now; tests pass a ManualClock
    limits: HoldLimits = field(default_factory=HoldLimits)  # order size, per-client holds
    api: ApiSettings = field(default_factory=ApiSettings)  # proxies, session lifetime


def init_keys(state_dir: Path, passphrase: bytes) -> list[Path]:
    """Make the cloud's keys and secrets (refuses to replace any that exist)."""
    folder = state_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    made = []
    for role, kid in (("root", "R1"), ("issuer", "I1")):
        path = folder / f"{role}.key"
        keystore.save(keystore.generate(role, kid), path, passphrase)
        made.append(path)
    (folder / "issuers.json").write_text('{"keys": {"I1": "active"}}\n')
    for name, what, size in SECRETS.values():
        keystore.save_secret(os.urandom(size), folder / name, passphrase, what)
        made.append(folder / name)
    return made


def from_settings(settings: Settings, passphrase: bytes, clock: Clock = SYSTEM) -> CloudContext:
    folder = settings.state_dir / "keys"
    root = keystore.load(folder / "root.key", passphrase)
    issuer, keyring = issuer_keys.load_keys(settings.state_dir, passphrase)
    secrets = {
        key: keystore.load_secret(folder / name, passphrase, what)
        for key, (name, what, _) in SECRETS.items()
    }
    engine = make_engine(settings.db_url)
    return CloudContext(
        engine=engine,
        sessions=session_factory(engine),
        root=root,
        issuer=Issuer(issuer, secrets["salt"]),
        keyring=keyring,
        pd=PersonalData(secrets["data"]),
        providers={
            # The sandbox yields tickets without money: only when the operator asks for it.
            **({"sandbox": SandboxProvider(secrets["sandbox"])} if settings.sandbox else {}),
            "cash": CashProvider(),
            **channels(settings.state_dir, passphrase, clock),
        },
        limits=HoldLimits(settings.order_max_lines, settings.client_hold_places),
        api=settings.api,
        clock=clock,
    )


def channels(state_dir: Path, passphrase: bytes, clock: Clock = SYSTEM) -> dict[str, Provider]:
    """WeChat Pay and Alipay, if ``channels.json`` configures them (else they answer
    ``channel_unavailable``). UnionPay has no maintained Python SDK: not offered (README)."""
    path = state_dir / "channels.json"
    if not path.exists():
        return {}
    from cloud.services.payments.alipay import AlipayProvider
    from cloud.services.payments.wechat import WechatPayProvider

    config = json.loads(path.read_text())
    folder = state_dir / "keys"

    def secret(name: str) -> str:
        sealed = folder / f"{name}.secret"
        return keystore.load_secret(sealed, passphrase, CHANNEL_SECRETS[name]).decode()

    found: dict[str, Provider] = {}
    if "wechat" in config:
        w = config["wechat"]
        found["wechat"] = WechatPayProvider(
            mchid=w["mchid"],
            appid=w["appid"],
            merchant_private_key=secret("wechat-merchant"),
            merchant_serial_no=w["merchant_serial_no"],
            apiv3_key=secret("wechat-apiv3"),
            platform_public_key=(state_dir / w["platform_public_key_file"]).read_text(),
            platform_public_key_id=w["platform_public_key_id"],
            notify_url=w["notify_url"],
            clock=clock,
        )
    if "alipay" in config:
        a = config["alipay"]
        found["alipay"] = AlipayProvider(
            appid=a["appid"],
            app_private_key=secret("alipay-app"),
            alipay_public_key=(state_dir / a["alipay_public_key_file"]).read_text(),
            notify_url=a["notify_url"],
            sandbox=bool(a.get("sandbox", False)),
        )
    return found
