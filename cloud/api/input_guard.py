"""The API's gate for raw input, before any route sees it: bodies are bounded and NUL-free.

Never: pass on a body larger than ``max_body`` bytes (an anonymous client could otherwise make
the process read and parse 20 MB per request), or a NUL character anywhere in the path, the
query or the body. PostgreSQL text columns cannot hold NUL, so a NUL that reached a query
ended in a 500 there while SQLite stored it; refusing it at the door gives both engines the
same 4xx, whatever field it was in.

- A body over the limit is 413 ``payload_too_large`` (from ``Content-Length`` at once, or as
  soon as a chunked body passes it).
- NUL, raw (0x00) or escaped in JSON (``\\u0000``), is 422 ``invalid_request``.
The body is buffered (the API's bodies are small JSON documents) and handed on unchanged.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.core.errors import Code, Problem

MAX_BODY = 1024 * 1024  # 1 MiB: the largest real body (a 1,000-holder order) is ~60 kB
_JSON_NUL = (b"\\u0000", b"\\U0000")


def _nul(where: str) -> Problem:
    return Problem(Code.INVALID_REQUEST, where=where, problem="NUL")  # "body: NUL"


class InputGuard:
    """ASGI middleware that bounds request bodies and refuses NUL (module docstring)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if b"\x00" in unquote_to_bytes(raw_path) or b"\x00" in unquote_to_bytes(
            scope.get("query_string", b"")
        ):
            await _refuse(send, _nul("address"))
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _refuse(send, Problem(Code.PAYLOAD_TOO_LARGE, limit=self.max_body))
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _refuse(send, Problem(Code.PAYLOAD_TOO_LARGE, limit=self.max_body))
                return
        if b"\x00" in body or any(escaped in body for escaped in _JSON_NUL):
            await _refuse(send, _nul("body"))
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: wait for the disconnect
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send: Send, refusal: Problem) -> None:
    """Answer with the refusal's problem JSON (the app's own shape, cloud/core/errors.py)."""
    body = json.dumps(refusal.body(), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
