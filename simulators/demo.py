"""`make demo`: a site on one machine, with its embedded defaults.

Today it runs the trust chain end to end: a root and an issuer key (encrypted at rest), a
root-signed keyring, one ticket of each kind with its QR code, and their verification the
way a gate sees them, including a forged one. Each later capability (gate nodes, broker,
cloud, dashboard) joins here until the demo runs a whole site.

State goes to ./demo-state (re-created on every run); the passphrase is generated into a 0600
file there, so nothing secret is typed or printed.
"""

from __future__ import annotations

import secrets
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from keys import keystore
from keys.claims import PriceType, TicketClaims
from keys.holder import holder_ref
from keys.keyring import IssuerKey, Keyring, sign_keyring
from keys.qr import render
from keys.ticket import issue_ticket, verify_ticket

STATE = Path("demo-state")
SITE = "DEMO"


def main() -> None:
    console = Console()
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir(mode=0o700)
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

    today = date.today()
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


if __name__ == "__main__":
    main()
