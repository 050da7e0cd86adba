"""USB-HID code scanners in keyboard mode ("keyboard wedge"), read through evdev.

Such a scanner types the code followed by Enter. The node grabs the input device (so the
keystrokes never reach a console) and turns key events back into text with ``KeyDecoder``,
which knows the keys a ticket can contain: base45's alphabet, lower case, and the punctuation
of URLs and ID numbers. evdev is Linux-only and comes with the ``pi`` extra.
"""

from __future__ import annotations

from typing import Any

from gate_node.readers.credentials import PARSERS, Credential, UnreadableCredential

# Linux input event codes (linux/input-event-codes.h) for the keys a scanner types.
_LETTERS = {
    16: "q",
    17: "w",
    18: "e",
    19: "r",
    20: "t",
    21: "y",
    22: "u",
    23: "i",
    24: "o",
    25: "p",
    30: "a",
    31: "s",
    32: "d",
    33: "f",
    34: "g",
    35: "h",
    36: "j",
    37: "k",
    38: "l",
    44: "z",
    45: "x",
    46: "c",
    47: "v",
    48: "b",
    49: "n",
    50: "m",
}
_PLAIN = {
    2: "1",
    3: "2",
    4: "3",
    5: "4",
    6: "5",
    7: "6",
    8: "7",
    9: "8",
    10: "9",
    11: "0",
    12: "-",
    13: "=",
    39: ";",
    51: ",",
    52: ".",
    53: "/",
    57: " ",
}
_SHIFTED = {
    2: "!",
    3: "@",
    4: "#",
    5: "$",
    6: "%",
    7: "^",
    8: "&",
    9: "*",
    10: "(",
    11: ")",
    12: "_",
    13: "+",
    39: ":",
    51: "<",
    52: ">",
    53: "?",
    57: " ",
}
KEY_ENTER, KEY_KPENTER, KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 28, 96, 42, 54
_KEY_DOWN, _KEY_UP = 1, 0


class KeyDecoder:
    """Feed (keycode, value) key events; ``feed`` returns the line when Enter comes."""

    def __init__(self) -> None:
        self._shift = False
        self._chars: list[str] = []

    def feed(self, code: int, value: int) -> str | None:
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            self._shift = value != _KEY_UP
            return None
        if value != _KEY_DOWN:
            return None  # key up and auto-repeat
        if code in (KEY_ENTER, KEY_KPENTER):
            line, self._chars = "".join(self._chars), []
            return line
        if code in _LETTERS:
            letter = _LETTERS[code]
            self._chars.append(letter.upper() if self._shift else letter)
        elif code in _PLAIN:
            self._chars.append((_SHIFTED if self._shift else _PLAIN)[code])
        return None


class HidWedgeReader:
    def __init__(self, device_path: str, kind: str = "qr") -> None:
        try:
            import evdev
        except ImportError:
            raise RuntimeError("evdev is not installed (the pi extra)") from None
        self._ecodes = evdev.ecodes
        self._device: Any = evdev.InputDevice(device_path)
        self._device.grab()
        self._decoder = KeyDecoder()
        self._parse = PARSERS[kind]

    def poll(self) -> list[Credential | UnreadableCredential]:
        results: list[Credential | UnreadableCredential] = []
        try:
            events = list(self._device.read())
        except BlockingIOError:
            return results
        for event in events:
            if event.type != self._ecodes.EV_KEY:
                continue
            line = self._decoder.feed(event.code, event.value)
            if line is not None:
                try:
                    results.append(self._parse(line))
                except UnreadableCredential as problem:
                    results.append(problem)
        return results

    def close(self) -> None:
        self._device.ungrab()
        self._device.close()
