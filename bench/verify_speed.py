"""How long keys/ takes to verify a ticket's text, for valid tickets and for each kind of bad one.

Target (issue #3): p99 under 0.5 ms on this machine. Samples are single calls timed with
perf_counter_ns after a warm-up, as a gate calls it: one code at a time.
"""

from __future__ import annotations

import time
from datetime import date

from bench.report import percentiles, report
from keys import keystore
from keys.claims import TicketClaims
from keys.keyring import IssuerKey, Keyring
from keys.ticket import issue_ticket, verify_ticket

SAMPLES = 20_000


def main() -> None:
    issuer = keystore.generate("issuer", "I1")
    ring = Keyring([IssuerKey(issuer.kid, issuer.public_key)])
    claims = TicketClaims(
        ticket_id=bytes(8),
        product=12,
        valid_from=date(2026, 11, 24),
        valid_until=date(2026, 11, 24),
    )
    good = issue_ticket(issuer, claims)
    forged = issue_ticket(keystore.generate("issuer", "I1"), claims)
    cases = {
        "valid": good,
        "forged (bad signature)": forged,
        "unknown kid": issue_ticket(keystore.generate("issuer", "X1"), claims),
        "truncated": good[:-31],
        "not base45": good[:40] + good[40:].lower(),
        "someone else's QR": "https://example.com/ticket/123456",
    }
    rows = []
    for name, text in cases.items():
        expected = verify_ticket(text, ring).reason
        for _ in range(500):
            verify_ticket(text, ring)
        samples = []
        for _ in range(SAMPLES):
            start = time.perf_counter_ns()
            verify_ticket(text, ring)
            samples.append(time.perf_counter_ns() - start)
        stats = percentiles(samples)
        rows.append(
            {
                "case": name,
                "reason": expected.value,
                **stats,
                "per_second": round(1000 / stats["p50_ms"]),
                "target_p99_ms": 0.5,
                "met": stats["p99_ms"] < 0.5,
            }
        )
    report("verify_speed", f"Ticket verification time ({SAMPLES} calls each)", rows)


if __name__ == "__main__":
    main()
