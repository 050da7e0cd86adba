"""Everything a request may need, built once at start: database, keys, channels, publisher.

Keys and secrets live encrypted in ``$SCENIC_STATE_DIR/keys`` (``scenic-cloud keys init`` makes
them with services/cloud_keys.py): the root key (signs what the gates trust), the issuer key
(signs tickets), the personal-data key, the holder salt, the sandbox channel's secret and the
face binding key (X25519; optional: an install made before it has none until ``scenic-cloud
keys face-init``). They are decrypted here, once, with the passphrase from the environment;
a missing file or a wrong passphrase stops the start with one line saying what to do.

The issuer key is the exception: ``scenic-cloud keys rotate`` (another process) changes which
key signs, so a running ``serve`` follows ``keys/issuers.json`` (``IssuerKeys``): each read of
``context.issuer`` or ``context.keyring`` costs one ``stat`` of that file, and a change of it
loads the new active key. A change that cannot be loaded (a key file missing, two active keys)
is logged and the previous key keeps signing, since gates still accept it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.config import (
    ApiSettings,
    ConfigError,
    ProvisioningSettings,
    Settings,
    ShopSettings,
)
from cloud.core.errors import Problem
from cloud.db import make_engine, session_factory
from cloud.mqtt.broker_logins import BrokerLogins
from cloud.services import issuer_keys
from cloud.services.cloud_keys import (
    CHANNEL_SECRETS,
    ROOT_KEY,
    SECRETS,
    key_folder,
    load_face_key,
)
from cloud.services.holds import HoldLimits
from cloud.services.issuing import Issuer
from cloud.services.payments.cash import CashProvider
from cloud.services.payments.provider import Provider
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.clock import SYSTEM, Clock
from keys.keyring import IssuerKey
from keys.keystore import KeyStoreError

log = logging.getLogger("cloud.keys")

Publish = Callable[[str, str, bytes], None]  # site, document type, signed bytes


@dataclass
class CloudContext:
    """Everything a request may need, built once per process: database, keys, payment
    channels, the gates' publisher, the clock and the API's limits.

    The app takes it whole (``create_app(context)``), so tests and the demo run the same app
    on their own database, keys and clock. Never holds per-request state, and never reads the
    environment after it is built (``from_settings`` does that once)."""

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
    shop: ShopSettings = field(default_factory=ShopSettings)  # public address, poster font
    # --- provisioning (issue 14): what enrolment hands a gate, and its broker logins ---
    provisioning: ProvisioningSettings = field(default_factory=ProvisioningSettings)
    node_broker: tuple[str, int] = ("127.0.0.1", 1883)  # the broker as gates reach it
    broker_logins: BrokerLogins | None = None  # dynsec admin; None: no broker logins made
    # --- face bindings (issue 15): gates seal first-entry bindings to its public half ---
    face_key: X25519PrivateKey | None = None  # None: no face key made yet (keys face-init)


class IssuerKeys:
    """The active issuer key and the keyring of keys that verify, re-read when
    ``keys/issuers.json`` changes (its mtime, size or inode: rotation replaces the file)."""

    def __init__(self, state_dir: Path, passphrase: bytes, holder_salt: bytes) -> None:
        self._state_dir, self._passphrase, self._salt = state_dir, passphrase, holder_salt
        self._path = issuer_keys.registry_path(state_dir)
        self._lock = threading.Lock()
        self._stamp = self._read_stamp()
        key, ring = issuer_keys.load_keys(state_dir, passphrase)  # at start, errors stop it
        self.issuer, self.keyring = Issuer(key, holder_salt), ring

    def refresh(self) -> None:
        """Load the keys again if the registry changed since the last look; cheap if not."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                key, ring = issuer_keys.load_keys(self._state_dir, self._passphrase)
            except (KeyStoreError, Problem) as exc:
                log.error("issuer keys not reloaded, %s keeps signing: %s", self.issuer.kid, exc)
                return
            self.issuer, self.keyring = Issuer(key, self._salt), ring
            log.info("issuer key %s signs from now on", self.issuer.kid)

    def _read_stamp(self) -> tuple[int, int, int] | None:
        try:
            found = self._path.stat()
        except FileNotFoundError:
            return None
        return found.st_mtime_ns, found.st_size, found.st_ino


class ServingContext(CloudContext):
    """The context ``serve`` runs on: ``issuer`` and ``keyring`` follow ``IssuerKeys``."""

    def __init__(self, keys: IssuerKeys, **fields: object) -> None:
        self._keys = keys
        super().__init__(issuer=keys.issuer, keyring=keys.keyring, **fields)  # type: ignore[arg-type]

    @property
    def issuer(self) -> Issuer:
        self._keys.refresh()
        return self._keys.issuer

    @issuer.setter
    def issuer(self, value: Issuer) -> None:
        self._keys.issuer = value

    @property
    def keyring(self) -> list[IssuerKey]:
        self._keys.refresh()
        return self._keys.keyring

    @keyring.setter
    def keyring(self, value: list[IssuerKey]) -> None:
        self._keys.keyring = value


def from_settings(settings: Settings, passphrase: bytes, clock: Clock = SYSTEM) -> CloudContext:
    folder = key_folder(settings.state_dir)
    root = keystore.load(folder / ROOT_KEY, passphrase)
    secrets = {
        key: keystore.load_secret(folder / name, passphrase, what)
        for key, (name, what, _) in SECRETS.items()
    }
    keys = IssuerKeys(settings.state_dir, passphrase, secrets["salt"])
    face_key = load_face_key(settings.state_dir, passphrase)
    if face_key is None:
        log.warning(
            "no face binding key: gates keep first-entry bindings local "
            "(run: scenic-cloud keys face-init)"
        )
    engine = make_engine(settings.db_url)
    return ServingContext(
        keys,
        engine=engine,
        sessions=session_factory(engine),
        root=root,
        pd=PersonalData(secrets["data"]),
        providers={
            # The sandbox yields tickets without money: only when the operator asks for it.
            **({"sandbox": SandboxProvider(secrets["sandbox"])} if settings.sandbox else {}),
            "cash": CashProvider(),
            **channels(settings.state_dir, passphrase, clock),
        },
        limits=HoldLimits(settings.order_max_lines, settings.client_hold_places),
        api=settings.api,
        shop=settings.shop,
        clock=clock,
        face_key=face_key,
        **provisioning(settings),
    )


def provisioning(settings: Settings) -> dict[str, object]:
    """The context fields of gate provisioning (cloud/core/config.py, ProvisioningSettings)."""
    wanted = settings.provisioning
    logins = None
    if wanted.admin_username:
        logins = BrokerLogins(
            settings.broker_host,
            settings.broker_port,
            wanted.admin_username,
            wanted.admin_password or "",
        )
    return {
        "provisioning": wanted,
        "node_broker": (
            wanted.node_broker_host or settings.broker_host,
            wanted.node_broker_port or settings.broker_port,
        ),
        "broker_logins": logins,
    }


def channels(state_dir: Path, passphrase: bytes, clock: Clock = SYSTEM) -> dict[str, Provider]:
    """WeChat Pay and Alipay, if ``channels.json`` configures them (else they answer
    ``channel_unavailable``). UnionPay has no maintained Python SDK: not offered (README).
    A file that cannot be used is a ``ConfigError`` naming the field or file."""
    path = state_dir / "channels.json"
    if not path.exists():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}) / 支付渠道配置不是合法JSON") from None
    try:
        return _channels(config, state_dir, passphrase, clock)
    except KeyError as exc:
        raise ConfigError(f"{path} lacks the field {exc} / 支付渠道配置缺少字段") from None
    except TypeError:
        raise ConfigError(
            f"{path}: each channel must be an object / 支付渠道配置格式有误"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path} names {exc.filename}, which cannot be read: {exc.strerror} "
            "/ 支付渠道配置引用的文件无法读取"
        ) from None


def _channels(
    config: dict[str, Any], state_dir: Path, passphrase: bytes, clock: Clock
) -> dict[str, Provider]:
    from cloud.services.payments.alipay import AlipayProvider
    from cloud.services.payments.wechat import WechatPayProvider

    folder = key_folder(state_dir)

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
