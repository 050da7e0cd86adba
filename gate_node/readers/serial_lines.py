"""Line-oriented serial readers: code scanners in serial mode, ID-card and RFID readers.

Most gate peripherals speak the same way over RS-232/USB-serial: one read, one line (CR, LF
or CRLF). ``SerialLineReader`` owns the port (pyserial, so any URL pyserial knows works:
``/dev/ttyUSB0``, ``rfc2217://``, and ``loop://`` in tests) and hands each complete line to
the parser for its kind (credentials.py). ``poll()`` never blocks longer than the port's
timeout, so the node loop keeps ticking the lane.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import serial

from gate_node.readers.credentials import PARSERS, Credential, UnreadableCredential

MAX_LINE = 1024  # longer than any credential: a stuck scanner cannot grow memory


class SerialLineReader:
    def __init__(
        self,
        url: str,
        kind: str,
        baudrate: int = 9600,
        opener: Callable[..., Any] = serial.serial_for_url,
    ) -> None:
        if kind not in PARSERS:
            raise ValueError(f"reader kind must be one of {', '.join(PARSERS)}")
        self.kind = kind
        self._parse = PARSERS[kind]
        self._port = opener(url, baudrate=baudrate, timeout=0)
        self._buffer = bytearray()

    def poll(self) -> list[Credential | UnreadableCredential]:
        """Every complete line read so far: a credential, or why the line was not one."""
        waiting = self._port.in_waiting
        if waiting:
            self._buffer += self._port.read(waiting)
        results: list[Credential | UnreadableCredential] = []
        while True:
            end = min(
                (i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0),
                default=-1,
            )
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if not line.strip():
                continue  # the LF of a CRLF
            try:
                results.append(self._parse(line.decode("ascii", "replace")))
            except UnreadableCredential as problem:
                results.append(problem)
        if len(self._buffer) > MAX_LINE:
            self._buffer.clear()
            results.append(UnreadableCredential("line too long without an end"))
        return results

    def close(self) -> None:
        self._port.close()
