"""What a reader hands to the decision engine: one credential, already checked for form.

Kinds: ``qr`` (ticket text), ``id_card`` (an 18-character resident ID number, GB 11643-1999,
check character verified so a misread is refused at the reader, not looked up), ``rfid``
(card UID as upper-case hex, 4, 7 or 10 bytes as ISO 14443 defines). A line that is not a
credential of the reader's kind raises ``UnreadableCredential`` with a reason the gate shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keys.holder import valid_id_number

KINDS = ("qr", "id_card", "rfid")
_ID_FORM = re.compile(r"^\d{17}[\dX]$")
_HEX = re.compile(r"^[0-9A-F]+$")


class UnreadableCredential(ValueError):
    """The read is not a credential of this kind (misread, wrong card, noise)."""


@dataclass(frozen=True, slots=True)
class Credential:
    kind: str
    value: str

    def __repr__(self) -> str:  # ID numbers are personal data: never whole in a log line
        shown = (
            self.value if self.kind != "id_card" else self.value[:4] + "*" * 10 + self.value[-4:]
        )
        return f"Credential({self.kind}, {shown})"


def parse_qr(line: str) -> Credential:
    text = line.strip("\r\n\x00")
    if not text:
        raise UnreadableCredential("empty read")
    return Credential("qr", text)


def parse_id_card(line: str) -> Credential:
    """GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character (0-9 or X)."""
    number = line.strip().upper()
    if not _ID_FORM.match(number):
        raise UnreadableCredential("not an 18-character ID number")
    if not valid_id_number(number):
        raise UnreadableCredential("ID number check character does not match (misread?)")
    return Credential("id_card", number)


def parse_rfid(line: str) -> Credential:
    """A card UID in hex (readers differ: spaces, colons, lower case); 4, 7 or 10 bytes."""
    uid = line.strip().upper().replace(":", "").replace(" ", "").replace("-", "")
    if not _HEX.match(uid) or len(uid) not in (8, 14, 20):
        raise UnreadableCredential("not a 4, 7 or 10 byte card UID")
    return Credential("rfid", uid)


PARSERS = {"qr": parse_qr, "id_card": parse_id_card, "rfid": parse_rfid}
