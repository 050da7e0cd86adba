"""`make demo`: a site on one machine, with its embedded defaults.

1. The trust chain: a root and an issuer key (encrypted at rest), a root-signed keyring, one
   ticket of each kind with its QR code, verified the way a gate sees them (and a forgery).
2. A gate node (tripod lane G1) on mock GPIO with a simulated turnstile mechanism: visitors
   show tickets to the simulated camera, the node decides offline, records the use, releases
   the arm, and the visitor walks through (or does not, and the use is rolled back).
3. A whole site (simulators/site.py): the ticket office (HTTP API on SQLite, ingest worker,
   downlink service), Mosquitto, and three gates, a tripod, a wing barrier and a swing gate,
   each a ``gate-node run`` process on simulated hardware (shared pins, a mechanism, a serial
   scanner), pinning the cloud's keys; visitors buy online and pay in the sandbox, a code used
   at one gate is refused at another, a refund over the API reaches the gates at once, and the
   cloud counts who is in the park.
4. The site stays up: visitors keep arriving, a summary every ten seconds (per gate and in
   the cloud), the URLs (the manager dashboard at ``/dashboard``) and a demo manager login
   printed, until Ctrl-C (or SIGTERM), or for ``$DEMO_SECONDS`` when that is set (CI,
   scripts). Everything it started is stopped on the way out.

State goes to ./demo-state (re-created on every run); the passphrase is generated into a 0600
file there, so nothing secret is typed. Exit codes: 0 after a clean stop (Ctrl-C included),
2 for a bad DEMO_SECONDS / DEMO_PORT, 1 when a part of the site failed to come up.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

from keys import keystore, logs
from keys.claims import PriceType, TicketClaims
from keys.clock import SYSTEM, site_today
from keys.holder import holder_ref
from keys.keyring import IssuerKey, Keyring, sign_keyring
from keys.qr import render
from keys.ticket import issue_ticket, verify_ticket
from simulators.site import run_site

STATE = Path("demo-state")
SITE = "DEMO"
SITE_TZ = ZoneInfo("Asia/Shanghai")


def main() -> None:
    console = Console()
    try:
        live_s = _demo_seconds(os.environ)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise SystemExit(2) from None
    # SIGTERM (systemd, CI, a supervisor) stops the demo the way Ctrl-C does: cleanly.
    signal.signal(signal.SIGTERM, _interrupt)
    # Ctrl-C too, even when started from a shell that ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _demo(console, live_s)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        console.print("Stopped; every part of the site is shut down. / 已停止，全部服务已关闭。")
    except (RuntimeError, OSError, httpx.HTTPError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]The demo could not run / 演示无法运行: {exc}[/red]")
        raise SystemExit(1) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _demo_seconds(environ: os._Environ[str] | dict[str, str]) -> float | None:
    value = environ.get("DEMO_SECONDS", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 7 * 24 * 3600:
        raise ValueError(
            f"DEMO_SECONDS={value!r} is not a number of seconds / DEMO_SECONDS 应为秒数"
        )
    return seconds


def _demo(console: Console, live_s: float | None) -> None:
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir(mode=0o700)
    # The gates' and the cloud's warnings go to a log file, as journald would keep them.
    log_file = open(STATE / "site.log", "a", encoding="utf-8")  # noqa: SIM115 (process-long)
    logs.setup(logging.INFO, log_file)
    passphrase_file = STATE / "passphrase"
    passphrase_file.write_text(secrets.token_urlsafe(24))
    passphrase_file.chmod(0o600)
    passphrase = keystore.passphrase_from(passphrase_file, creating=True)

    root = keystore.generate("root", "R1")
    issuer = keystore.generate("issuer", "I1")
    keystore.save(root, STATE / "root.key", passphrase)
    keystore.save(issuer, STATE / "issuer-I1.key", passphrase)
    (STATE / "root.pem").write_text(keystore.public_pem(root.public_key))
    keyring_doc = sign_keyring(root, [IssuerKey(issuer.kid, issuer.public_key)], site=SITE, seq=1)
    (STATE / "keyring.cose").write_bytes(keyring_doc)
    # The gate's side: only the pinned root public key and the signed keyring.
    ring = Keyring.load(keyring_doc, keystore.load_public_pem(STATE / "root.pem"), SITE)

    today = site_today(SYSTEM, SITE_TZ)
    salt = secrets.token_bytes(16)
    kinds: dict[str, dict[str, Any]] = {
        "day ticket 日票": {},
        "timed entry 分时票": {"slot_start": 540, "slot_end": 600},
        "group 团体票 x20": {"group_size": 20, "price_type": PriceType.GROUP},
        "real-name 实名票": {"holder": holder_ref(salt, "id_card", "11010519491231002X")},
        "annual pass 年卡": {
            "valid_until": today + timedelta(days=364),
            "entries": 0,
            "entries_per_day": 2,
        },
    }
    table = Table(title=f"Site {SITE}: tickets as a gate verifies them / 验票演示")
    for column in ("ticket", "no.", "chars", "QR", "result", "file"):
        table.add_column(column)
    for number, (name, extra) in enumerate(kinds.items(), start=1):
        claims = TicketClaims(
            ticket_id=secrets.token_bytes(8),
            product=number,
            valid_from=today,
            valid_until=extra.pop("valid_until", today),
            **extra,
        )
        text = issue_ticket(issuer, claims)
        png = STATE / f"ticket-{number}.png"
        info = render(text, png)
        result = verify_ticket(text, ring)
        table.add_row(
            name,
            claims.ticket_no,
            str(len(text)),
            f"v{info.version}-{info.error}",
            f"{result.reason.value} {result.reason.text.zh}",
            str(png),
        )
    forged = issue_ticket(keystore.generate("issuer", "I1"), claims)
    result = verify_ticket(forged, ring)
    table.add_row(
        "forged 伪造票",
        "-",
        str(len(forged)),
        "-",
        f"{result.reason.value} {result.reason.text.zh}",
        "-",
    )
    console.print(table)
    console.print(f"Keys, keyring and QR codes are in {STATE.resolve()} (keys encrypted, 0600).")
    run_gate(console, issuer, passphrase)
    run_site(console, STATE, passphrase, live_s)


def run_gate(console: Console, issuer: keystore.SigningKey, passphrase: bytes) -> None:
    """A tripod lane admitting a queue of simulated visitors through the camera path."""
    from gpiozero.pins.mock import MockFactory

    from gate_node.assembly import build
    from gate_node.readers.credentials import Credential
    from gate_node.readers.qr import QrDecoder
    from provisioning.node_init import initialise
    from simulators.camera import ticket_frame
    from simulators.mechanisms import MockWires, TripodMechanism

    state = initialise(
        STATE / "gate-G1",
        {"site": SITE, "node": "G1", "kind": "tripod", "zone": 1, "timezone": "Asia/Shanghai"},
        STATE / "root.pem",
        STATE / "keyring.cose",
        None,
        passphrase,
    )
    pins = MockFactory()
    pins.pin(21).drive_high()  # fire loop intact
    node = build(state, pins, with_camera=False)
    mechanism = TripodMechanism(MockWires(pins, state.config.pin_map or {}))
    decoder = QrDecoder()
    today = site_today(SYSTEM, SITE_TZ)

    def ticket(number: int, **extra: Any) -> str:
        fields: dict[str, Any] = {"valid_from": today, "valid_until": today, **extra}
        return issue_ticket(
            issuer, TicketClaims(ticket_id=bytes([number]) * 8, product=1, **fields)
        )

    family = ticket(3, group_size=4, price_type=PriceType.GROUP)
    queue_: list[tuple[str, str, dict[str, Any], int]] = [
        ("adult, paper ticket 纸质票", ticket(1), {}, 1),
        ("same ticket again 重复使用", ticket(1), {}, 1),
        ("phone in dark mode 手机深色模式", ticket(2), {"invert": True, "angle": 20}, 1),
        ("family of four 家庭票", family, {"angle": 10}, 4),
        ("other zone 其他园区票", ticket(4, zones=(7,)), {}, 1),
        (
            "yesterday's ticket 过期票",
            ticket(5, valid_from=today - timedelta(days=1), valid_until=today - timedelta(days=1)),
            {},
            1,
        ),
        ("walks away 未通过", ticket(6), {}, 0),
        (
            "forged 伪造票",
            issue_ticket(
                keystore.generate("issuer", "I1"),
                TicketClaims(
                    ticket_id=bytes([7]) * 8, product=1, valid_from=today, valid_until=today
                ),
            ),
            {},
            1,
        ),
    ]
    table = Table(title="Lane G1 (tripod, offline) / 闸机 G1 检票")
    for column in ("visitor", "decision", "reason / 原因", "passed"):
        table.add_column(column)
    now_ms = 0
    for who, text, camera, walkers in queue_:
        (read,) = decoder.decode(ticket_frame(text, **camera))
        node.service.repeats.hold_s = 0  # each visitor is a new presentation
        before = len(node.service.decisions)
        passed_before = mechanism.counts["passed_in"]
        node.service.reads.put(Credential("qr", read))
        for _ in range(1400):  # 7 s of lane time in 5 ms ticks
            now_ms += 5
            node.service.step(now_ms)
            mechanism.step(5)
            if len(node.service.decisions) > before and walkers:
                if node.service.decisions[before].grant:
                    mechanism.arrive("walk", count=walkers)  # the lane opened: they walk
                walkers = 0
        decision = node.service.decisions[before]
        zh, en = decision.message(state.config.rules().timezone)
        passed = mechanism.counts["passed_in"] - passed_before
        table.add_row(who, "grant" if decision.grant else "deny", f"{en} / {zh}", str(passed))
    console.print(table)
    counts = node.service.ledger.counts()
    console.print(
        f"Ledger {state.ledger_path}: {counts['uses']} uses ({counts['rolled_back']} "
        f"rolled back), {counts['denials']} refusals recorded."
    )
    node.close()


if __name__ == "__main__":
    main()
