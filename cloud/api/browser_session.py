"""The dashboard's browser session: a staff session token (services/staff_sessions.py) kept in
a cookie, and the CSRF checks every state-changing form passes.

Never: let JavaScript read the session (HttpOnly), send it to another site's request
(SameSite=Strict) or over plain HTTP once the site is behind TLS (Secure, when the request
came over TLS: api/client.came_over_tls), or change anything on a POST without a valid token.

CSRF, two layers: SameSite=Strict already keeps the cookie off cross-site requests; each form
also carries a token. Signed in, the token is derived from the session token (SHA-256 of a
label and the token: unguessable without the cookie, different per session, nothing stored).
Before sign-in, the login form's token is a random value also set in a short-lived cookie
(double submit), so a login form cannot be posted from elsewhere (login CSRF). A request whose
``Origin`` names another host is refused too; ``Origin: null`` is what browsers send on every
form POST from a page with ``Referrer-Policy: no-referrer`` (ours), so there the token decides.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from cloud.api.client import came_over_tls
from cloud.api.context import CloudContext
from cloud.core.errors import Code, Problem
from cloud.services import staff_preferences, staff_sessions

COOKIE = "scenic_dashboard"
LOGIN_COOKIE = "scenic_dashboard_login"
PATH = "/dashboard"


@dataclass(frozen=True)
class Viewer:
    user_id: int
    username: str
    role: str
    token: str
    lang: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)


def csrf_for(token: str) -> str:
    return hashlib.sha256(b"scenic dashboard csrf\x00" + token.encode()).hexdigest()[:40]


def viewer(request: Request, ctx: CloudContext) -> Viewer | None:
    """Who this browser is signed in as, or None (no cookie, or a session that has ended)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with ctx.sessions() as db:
        try:
            user = staff_sessions.user_of(db, token, ctx.api, ctx.clock.now())
        except Problem:
            return None
        lang = staff_preferences.language(db, user.id)
        db.commit()  # the session's last use (idle timeout)
    return Viewer(user.id, user.username, user.role, token, lang)


def still_signed_in(who: Viewer, ctx: CloudContext) -> bool:
    """Whether ``who``'s session is still on (not signed out, revoked, expired or idle), read
    without recording a use; for the live stream's every tick."""
    with ctx.sessions() as db:
        return staff_sessions.still_active(db, who.token, ctx.api, ctx.clock.now())


def check_form(request: Request, sent: str, expected: str | None) -> None:
    """Refuse (403 ``csrf_failed``) a form whose token is not ``expected`` or whose Origin is
    another host."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise Problem(Code.CSRF_FAILED)
    if not expected or not hmac.compare_digest(sent, expected):
        raise Problem(Code.CSRF_FAILED)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(
    response: Response, request: Request, ctx: CloudContext, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=came_over_tls(request.scope, ctx.api.trusted_proxies),
    )


def clear_cookie(response: Response, request: Request, ctx: CloudContext, name: str) -> None:
    response.delete_cookie(
        name,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=came_over_tls(request.scope, ctx.api.trusted_proxies),
    )
