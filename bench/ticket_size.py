"""Ticket text length and QR version at error-correction level M, per kind of ticket.

Targets (issue #3, DESIGN.md): a day ticket fits version 6 (41x41, <= 154 alphanumeric
characters); every other kind fits version 7 (<= 178). Product ids here are four digits, as in
a catalogue that has grown for years.
"""

from __future__ import annotations

from datetime import date

from bench.report import report
from keys import keystore
from keys.claims import PriceType, TicketClaims
from keys.holder import holder_ref
from keys.qr import version_at
from keys.ticket import issue_ticket

DAY = date(2026, 11, 24)
SALT = b"site-holder-salt"


def kinds() -> dict[str, tuple[TicketClaims, int]]:
    base = {
        "ticket_id": bytes.fromhex("5c3e91a07f12d4b8"),
        "product": 1204,
        "valid_from": DAY,
        "valid_until": DAY,
    }
    return {
        "day (adult)": (TicketClaims(**base), 6),
        "timed-entry 09:00-10:00, 2 zones": (
            TicketClaims(**base, slot_start=540, slot_end=600, zones=(1, 3)),
            7,
        ),
        "group of 35": (TicketClaims(**base, group_size=35, price_type=PriceType.GROUP), 7),
        "real-name (ID card)": (
            TicketClaims(
                **base,
                holder=holder_ref(SALT, "id_card", "11010519491231002X"),
                price_type=PriceType.ADULT,
            ),
            7,
        ),
        "package over 4 zones, 2 days": (
            TicketClaims(
                **{**base, "valid_until": date(2026, 11, 25)}, zones=(1, 2, 3, 4), entries=4
            ),
            7,
        ),
        "annual pass (member, 2/day)": (
            TicketClaims(
                **{**base, "valid_until": date(2027, 11, 23)},
                entries=0,
                entries_per_day=2,
                holder=holder_ref(SALT, "member", "M00012345"),
            ),
            7,
        ),
    }


def main() -> None:
    issuer = keystore.generate("issuer", "I1")
    rows = []
    for name, (claims, target) in kinds().items():
        text = issue_ticket(issuer, claims)
        info = version_at(text, "M")
        rows.append(
            {
                "ticket": name,
                "characters": len(text),
                "qr_version_at_M": info.version,
                "modules": f"{info.modules}x{info.modules}",
                "target_version": target,
                "met": info.version <= target,
            }
        )
    report(
        "ticket_size",
        "Ticket text and QR size (error correction M)",
        rows,
        "pretix's signed tickets, for comparison: 112-140 characters in byte mode, versions 7-8.",
    )


if __name__ == "__main__":
    main()
