"""Cloud settings from the environment, read once at start and passed down.

Every setting has an embedded default that makes ``make demo`` work on one machine (SQLite under
the state directory, a broker on localhost), except secrets: a passphrase or key is never
defaulted, and a known placeholder value is refused.

``SCENIC_ENV`` says what this is: ``development`` (the default) or ``production``.
``SCENIC_SANDBOX=1`` (or ``scenic-cloud serve --sandbox``) turns on the sandbox payment channel,
whose checkout gives real tickets without money: off by default, for demos and tests only, and
refused in production (a Settings with both cannot be made).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REFUSED_SECRETS = {"", "changethis", "secret", "password", "changeme"}
ENVIRONMENTS = ("development", "production")
SWITCH = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
    "": False,
}


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message names the variable."""


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ApiSettings:
    """How the HTTP API treats its callers: whom it believes about addresses, how long a
    staff session lives.

    - ``trusted_proxies`` (``SCENIC_TRUSTED_PROXIES``, comma-separated addresses or networks,
      e.g. ``127.0.0.1,10.0.0.0/8``; default none): only a request arriving from one of these
      may say where it came from (``X-Forwarded-For``) and whether it came over TLS
      (``X-Forwarded-Proto``). With none, the audit log records the connecting address.
    - ``session_hours`` (``SCENIC_SESSION_HOURS``, default 8: one shift at the window, not
      the 12 h a forgotten till would stay open) and ``session_idle_minutes``
      (``SCENIC_SESSION_IDLE_MINUTES``, default 30; 0 turns the idle timeout off): a bearer
      token unused for that long stops working.
    """

    trusted_proxies: tuple[IpNetwork, ...] = ()
    session_hours: int = 8
    session_idle_minutes: int = 30

    @classmethod
    def from_env(cls, values: Mapping[str, str]) -> ApiSettings:
        proxies = []
        for item in values.get("SCENIC_TRUSTED_PROXIES", "").split(","):
            if item.strip():
                try:
                    proxies.append(ipaddress.ip_network(item.strip(), strict=False))
                except ValueError:
                    raise ConfigError(
                        f"SCENIC_TRUSTED_PROXIES: {item.strip()!r} is not an address or network"
                    ) from None
        return cls(
            trusted_proxies=tuple(proxies),
            session_hours=_int_setting(values, "SCENIC_SESSION_HOURS", 8, 1, 24),
            session_idle_minutes=_int_setting(
                values, "SCENIC_SESSION_IDLE_MINUTES", 30, 0, 24 * 60
            ),
        )


def _int_setting(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = values.get(name)
    if text is None or not text.strip():
        return default
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number ({low}-{high})") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return number


# --- the visitor's phone (shop, ticket page, posters) ---
DEFAULT_POSTER_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # fonts-wqy-microhei


@dataclass(frozen=True)
class ShopSettings:
    """Where visitors reach the shop and how its posters are drawn.

    - ``public_base_url`` (``SCENIC_PUBLIC_BASE_URL``, e.g. ``https://tickets.example``): the
      address printed in the posters' QR codes. Empty (the default): each poster uses the
      address it was requested at, which is right for a demo and wrong behind a proxy.
    - ``poster_font`` (``SCENIC_POSTER_FONT``, default Debian's fonts-wqy-microhei): a
      TrueType font (.ttf/.ttc) with Chinese characters for the posters. When it is missing,
      posters are drawn in English only and say so (api/routes/posters.py).
    """

    public_base_url: str = ""
    poster_font: Path = DEFAULT_POSTER_FONT

    @classmethod
    def from_env(cls, values: Mapping[str, str]) -> ShopSettings:
        base = values.get("SCENIC_PUBLIC_BASE_URL", "").strip().rstrip("/")
        if base and not base.startswith(("http://", "https://")):
            raise ConfigError(
                f"SCENIC_PUBLIC_BASE_URL={base!r} must start with https:// (or http://) "
                "/ 公开网址须以 https:// 开头"
            )
        font = values.get("SCENIC_POSTER_FONT", "").strip()
        return cls(base, Path(font) if font else DEFAULT_POSTER_FONT)


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    db_url: str
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    broker_username: str | None = None
    broker_password: str | None = None
    site_timezone: str = "Asia/Shanghai"
    hold_expiry_every_s: float = 30.0  # serve expires unpaid holds this often; 0: never
    order_max_lines: int = 10
    client_hold_places: int = 40  # unpaid places one anonymous client address may hold
    api: ApiSettings = field(default_factory=ApiSettings)
    environment: str = "development"
    sandbox: bool = False
    shop: ShopSettings = field(default_factory=ShopSettings)
    provisioning: ProvisioningSettings = field(default_factory=lambda: ProvisioningSettings())

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(
                f"SCENIC_ENV must be one of {', '.join(ENVIRONMENTS)} / SCENIC_ENV 取值无效"
            )
        if self.sandbox and self.environment == "production":
            raise ConfigError(
                "the sandbox payment channel gives tickets without money: refused with "
                "SCENIC_ENV=production / 生产环境不能开启沙箱支付"
            )
        try:
            ZoneInfo(self.site_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"SCENIC_SITE_TIMEZONE={self.site_timezone!r} is not an IANA time zone such as "
                "Asia/Shanghai / 时区无效"
            ) from None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        values = os.environ if env is None else env
        state_dir = Path(values.get("SCENIC_STATE_DIR", "cloud-state"))
        db_url = values.get("SCENIC_DB_URL") or f"sqlite:///{state_dir / 'cloud.sqlite'}"
        password = values.get("SCENIC_BROKER_PASSWORD")
        if password is not None and password.lower() in REFUSED_SECRETS:
            raise ConfigError(
                "SCENIC_BROKER_PASSWORD is a placeholder; set a real secret / 消息服务密码为占位符"
            )
        try:
            port = int(values.get("SCENIC_BROKER_PORT", "1883"))
        except ValueError:
            raise ConfigError("SCENIC_BROKER_PORT must be a port number") from None
        sandbox = SWITCH.get(values.get("SCENIC_SANDBOX", "").strip().lower())
        if sandbox is None:
            raise ConfigError("SCENIC_SANDBOX must be 1 or 0 / SCENIC_SANDBOX 须为 1 或 0")
        return cls(
            state_dir=state_dir,
            db_url=db_url,
            broker_host=values.get("SCENIC_BROKER_HOST", "127.0.0.1"),
            broker_port=port,
            broker_username=values.get("SCENIC_BROKER_USERNAME"),
            broker_password=password,
            site_timezone=values.get("SCENIC_SITE_TIMEZONE", "Asia/Shanghai"),
            hold_expiry_every_s=_number(values, "SCENIC_HOLD_EXPIRY_EVERY_S", "30", float),
            order_max_lines=_number(values, "SCENIC_ORDER_MAX_LINES", "10", int),
            client_hold_places=_number(values, "SCENIC_CLIENT_HOLD_PLACES", "40", int),
            environment=values.get("SCENIC_ENV", "development").strip().lower(),
            sandbox=sandbox,
            api=ApiSettings.from_env(values),
            shop=ShopSettings.from_env(values),
            provisioning=ProvisioningSettings.from_env(values),
        )


N = TypeVar("N", int, float)


def _number(values: Mapping[str, str], name: str, default: str, kind: type[N]) -> N:
    """A non-negative number setting, or a ConfigError naming the variable."""
    try:
        number = kind(values.get(name, default))
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if not 0 <= number < float("inf"):
        raise ConfigError(f"{name} must be a finite number, not negative")
    return number


# --- provisioning (issue 14) ---------------------------------------------------------------
# SCENIC_NODE_BROKER_HOST / _PORT: the broker as the gates reach it (in each enrolment bundle;
# default SCENIC_BROKER_HOST / _PORT). SCENIC_BROKER_ADMIN_USERNAME / _PASSWORD: the
# dynamic-security admin (`mosquitto_ctrl dynsec init`); unset, nodes are enrolled without a
# broker login (standalone, offline) and the bundle says so. SCENIC_ENROLMENT_TOKEN_MINUTES:
# how long an enrolment token lives (default 30, at most 1440).
@dataclass(frozen=True)
class ProvisioningSettings:
    node_broker_host: str | None = None
    node_broker_port: int | None = None
    admin_username: str | None = None
    admin_password: str | None = None
    token_minutes: int = 30
    open_tokens_per_site: int = 20  # rate limit: unused, unexpired tokens one site may hold

    @classmethod
    def from_env(cls, values: Mapping[str, str]) -> ProvisioningSettings:
        try:
            port = values.get("SCENIC_NODE_BROKER_PORT")
            minutes = int(values.get("SCENIC_ENROLMENT_TOKEN_MINUTES", "30"))
            node_port = int(port) if port else None
        except ValueError:
            raise ConfigError(
                "SCENIC_NODE_BROKER_PORT and SCENIC_ENROLMENT_TOKEN_MINUTES must be numbers"
                " / 须为数字"
            ) from None
        if not 1 <= minutes <= 1440:
            raise ConfigError("SCENIC_ENROLMENT_TOKEN_MINUTES must be 1-1440 / 须为1-1440分钟")
        return cls(
            node_broker_host=values.get("SCENIC_NODE_BROKER_HOST"),
            node_broker_port=node_port,
            admin_username=values.get("SCENIC_BROKER_ADMIN_USERNAME"),
            admin_password=values.get("SCENIC_BROKER_ADMIN_PASSWORD"),
            token_minutes=minutes,
        )
