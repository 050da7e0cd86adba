"""Serial peripherals on pseudo-terminals: the code scanner, the ID-card reader, the RFID reader.

A gate node opens its readers by path (``readers`` in its configuration, pyserial); here each
is the slave side of a pseudo-terminal, and the simulator writes on the master side exactly
what the device sends: one line per read, CR LF. Nothing here is a double of our own code: the
node's own serial reader and parsers (gate_node/readers/) read these lines.

- ``Pty``: any line device; the QR scanner in serial mode is just this (``send(text)``).
- ``IdCardReader``: a resident ID card (身份证) reader: ``swipe(number)`` sends the 18
  characters; ``id_number(seed)`` makes a number with a valid check character.
- ``RfidReader``: a card UID in the reader's own style (``04:A2:1B:7C`` or ``04A21B7C``).
"""

from __future__ import annotations

import os
import random
import tty

from keys.holder import valid_id_number


class Pty:
    """A serial device on a pseudo-terminal: the node opens ``path``, we write lines."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: a plain serial line
        self.path = os.ttyname(self._slave)

    def send(self, line: str) -> None:
        os.write(self.master, line.encode("ascii") + b"\r\n")

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


class IdCardReader(Pty):
    def swipe(self, number: str) -> None:
        self.send(number)


class RfidReader(Pty):
    def __init__(self, separator: str = ":") -> None:
        super().__init__()
        self.separator = separator

    def tap(self, uid: bytes) -> None:
        """A card held to the reader: its UID (4, 7 or 10 bytes) as the reader prints it."""
        self.send(self.separator.join(f"{b:02X}" for b in uid))


def id_number(seed: int, region: str = "110105", born: str = "19900101") -> str:
    """A well-formed resident ID number (GB 11643-1999) for a simulated visitor."""
    serial = f"{random.Random(seed).randint(0, 999):03d}"
    for check in "0123456789X":
        number = region + born + serial + check
        if valid_id_number(number):
            return number
    raise AssertionError("one check character always fits")  # MOD 11-2 covers 0-9 and X
