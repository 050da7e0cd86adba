"""Refusals the API returns: one exception family, each a stable code with zh-CN/en messages.

Services raise ``Problem``; the API turns it into RFC 9457 problem JSON::

    {"type": "about:blank", "status": 409, "code": "sold_out",
     "title": "Sold out", "message_zh": "...", "message_en": "..."}

A 5xx is a bug; anything a client can cause is one of these.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A refusal; ``extra`` goes into the body, ``headers`` (e.g. Retry-After) onto the answer."""

    def __init__(
        self,
        status: int,
        code: str,
        en: str,
        zh: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{code}: {en}")
        self.headers = headers or {}
        self.status = status
        self.code = code
        self.en = en
        self.zh = zh
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "status": self.status,
            "code": self.code,
            "title": self.en,
            "message_en": self.en,
            "message_zh": self.zh,
            **self.extra,
        }


def not_found(what: str, zh: str) -> Problem:
    return Problem(404, "not_found", f"{what} not found", f"{zh}不存在")
