"""Simulated GPIO shared between processes: a real ``gate-node run`` on one side, a simulated
gate (gate-sim, the HIL suite, the demo) on the other. Never used on a real gate.

gpiozero's ``MockFactory`` keeps its pins in one process, so a node and the mechanism that
answers it could only share a process. Here the pins live in a small memory-mapped file (the
*pin bank*, 64 BCM lines) that both sides map:

- the node's side is a gpiozero pin factory, ``SharedPinFactory``, chosen exactly as a real
  backend is: ``GPIOZERO_PIN_FACTORY=simpins`` (an entry point in pyproject.toml) with
  ``SCENIC_SIM_PINS=/path/to/bank``. The node code is unchanged: it sees gpiozero devices.
- the hardware's side is ``PinBank``: read what the node drives (relays, lamps, buzzer) and
  drive what the node reads (beams, switches, the fire loop), as a harness would.

Layout, 4 bytes per line, after an 8-byte magic ``SIMPINS1``::

    +0  level the node drives on an output (0/1)
    +1  level the outside drives on an input (0/1)
    +2  1 once the outside has driven this line (else the input reads its pull)
    +3  what the node made of it: 0 unused, 1 input, 2 output

One byte written at a time, so no lock is needed: each byte has one writer (the node writes
+0 and +3, the outside +1 and +2), and a reader sees the old or the new value, like a wire.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

ENVIRONMENT_VARIABLE = "SCENIC_SIM_PINS"
MAGIC = b"SIMPINS1"
LINES = 64
_SIZE = len(MAGIC) + 4 * LINES
_NODE_LEVEL, _OUTSIDE_LEVEL, _DRIVEN, _FUNCTION = 0, 1, 2, 3
FUNCTIONS = {0: "unused", 1: "input", 2: "output"}


class PinBankError(RuntimeError):
    """The pin bank file is missing or is not one."""


class PinBank:
    """A mapped pin bank. ``create`` makes (or clears) the file; ``open`` maps an existing one."""

    def __init__(self, path: Path, memory: mmap.mmap) -> None:
        self.path = path
        self._memory = memory

    @classmethod
    def create(cls, path: Path) -> PinBank:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(MAGIC + bytes(4 * LINES))
        return cls.open(path)

    @classmethod
    def open(cls, path: Path) -> PinBank:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise PinBankError(f"pin bank {path}: {exc.strerror}") from None
        try:
            if os.fstat(fd).st_size != _SIZE:
                raise PinBankError(f"{path} is not a pin bank (size)")
            memory = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        if memory[: len(MAGIC)] != MAGIC:
            memory.close()
            raise PinBankError(f"{path} is not a pin bank (magic)")
        return cls(path, memory)

    def _at(self, gpio: int, field: int) -> int:
        if not 0 <= gpio < LINES:
            raise ValueError(f"GPIO {gpio} is outside the bank (0-{LINES - 1})")
        return len(MAGIC) + 4 * gpio + field

    # -- the outside (harness) side ---------------------------------------------------------------
    def drive(self, gpio: int, level: bool) -> None:
        """Put ``level`` (electrical: True is high) on an input line of the node."""
        self._memory[self._at(gpio, _OUTSIDE_LEVEL)] = 1 if level else 0
        self._memory[self._at(gpio, _DRIVEN)] = 1

    def release(self, gpio: int) -> None:
        """Stop driving a line: it reads its pull again (a wire unplugged)."""
        self._memory[self._at(gpio, _DRIVEN)] = 0

    def output(self, gpio: int) -> bool:
        """The electrical level the node drives on ``gpio`` (False while it is not an output)."""
        if self._memory[self._at(gpio, _FUNCTION)] != 2:
            return False
        return bool(self._memory[self._at(gpio, _NODE_LEVEL)])

    def function(self, gpio: int) -> str:
        return FUNCTIONS[self._memory[self._at(gpio, _FUNCTION)]]

    # -- the node (gpiozero) side -----------------------------------------------------------------
    def set_output(self, gpio: int, level: bool) -> None:
        self._memory[self._at(gpio, _NODE_LEVEL)] = 1 if level else 0

    def set_function(self, gpio: int, function: str) -> None:
        code = {name: value for value, name in FUNCTIONS.items()}[function]
        self._memory[self._at(gpio, _FUNCTION)] = code

    def input(self, gpio: int, pull: str) -> bool | None:
        """What the node reads on an input: the outside's level, else its pull (None: floating)."""
        if self._memory[self._at(gpio, _DRIVEN)]:
            return bool(self._memory[self._at(gpio, _OUTSIDE_LEVEL)])
        return {"up": True, "down": False}.get(pull)

    def close(self) -> None:
        self._memory.close()


class SharedPin(MockPin):  # type: ignore[misc]
    """A gpiozero pin whose level lives in the shared bank. Edge callbacks (``when_changed``)
    are not raised: the gate node polls its pins every tick, it registers none."""

    def __init__(self, factory: Any, info: Any) -> None:
        self._bank: PinBank = factory.bank
        self._gpio = _number(info)
        super().__init__(factory, info)

    def _get_state(self) -> bool:
        if self._function == "output":
            return bool(self._state)
        level = self._bank.input(self._gpio, self._pull)
        return bool(self._state) if level is None else level

    def _set_function(self, value: str) -> None:
        super()._set_function(value)
        self._bank.set_function(self._gpio, value)
        if value == "output":
            self._bank.set_output(self._gpio, bool(self._state))

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if self._function == "output":
            self._bank.set_output(self._gpio, value)
        # On an input, a drive from the node's own process (its pull, or the intact-loop model
        # of gpio_board.py) only sets the level read while the outside drives nothing.
        return changed

    def close(self) -> None:
        super().close()
        self._bank.set_function(self._gpio, "unused")


def _number(info: Any) -> int:
    """The BCM number of a gpiozero PinInfo."""
    for name in info.names:
        if isinstance(name, int):
            return name
        if isinstance(name, str) and name.startswith("GPIO") and name[4:].isdigit():
            return int(name[4:])
    raise ValueError(f"pin {info.name} has no GPIO number")


class SharedPinFactory(MockFactory):  # type: ignore[misc]
    """gpiozero's mock board (a Pi 4's header and pin numbering) with its pins in a pin bank:
    ``$SCENIC_SIM_PINS`` names the bank file, or pass ``path``."""

    def __init__(self, path: str | Path | None = None) -> None:
        where = path or os.environ.get(ENVIRONMENT_VARIABLE)
        if not where:
            raise PinBankError(f"set {ENVIRONMENT_VARIABLE} to a pin bank file (from gate-sim)")
        self.bank = PinBank.open(Path(where))
        super().__init__(pin_class=SharedPin)

    def close(self) -> None:
        super().close()
        self.bank.close()
