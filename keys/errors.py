"""The one exception family of keys/ (STYLE.md: one family per package, like gpiozero/exc.py).

A caller at a boundary (a frame, a message, a request, a command) may catch ``KeysError`` to
refuse anything keys/ refused; the subclasses say what was wrong. ``Refusal`` is the shape
three of them share: a stable ``code`` (a reason code or a document code, for logs, alarms
and answers) and a human ``detail``. Never: carry a secret in a message.
"""

from __future__ import annotations


class KeysError(Exception):
    """Something keys/ refused: a key, a passphrase, an envelope, a claim, a document."""


class Refusal(KeysError, ValueError):
    """A refusal with a stable ``code`` and a ``detail``; ``str()`` is the detail alone unless
    ``message`` says otherwise."""

    def __init__(self, code: str, detail: str, message: str | None = None) -> None:
        super().__init__(detail if message is None else message)
        self.code = code
        self.detail = detail
