"""The manager's dashboard at /dashboard: sign-in form, the page, live updates, and the few
things a manager does there (acknowledge an alarm, switch language, sign out).

Who sees it: managers (who also acknowledge alarms), finance and auditors (read-only). The
browser holds a staff session in a cookie (api/browser_session.py: HttpOnly, SameSite=Strict,
Secure behind TLS); every POST carries a CSRF token. Figures come from
services/dashboard_figures.py, pages from cloud/dashboard/render.py, live updates from
cloud/dashboard/live.py (server-sent events; PostgreSQL LISTEN/NOTIFY or a SQLite poll).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from cloud.api import browser_session as browser
from cloud.api.deps import Context, SeenLocks, Source
from cloud.api.schemas import PathId
from cloud.core.errors import Code, Problem
from cloud.dashboard import pass_rule_form, render
from cloud.dashboard.i18n import Words
from cloud.dashboard.live import SIGNED_OUT, ChangeFeed, Hub
from cloud.services import (
    alarms,
    dashboard_figures,
    pass_rules,
    staff_preferences,
    staff_sessions,
)
from cloud.services.audit import audit
from cloud.services.staff_sign_in import sign_in

router = APIRouter(prefix="/dashboard", include_in_schema=False)
VIEW_ROLES = ("finance", "auditor")  # and managers, who also acknowledge alarms
ACK_ROLES = ("manager",)
LOGIN_COOKIE_S = 900


def _may_view(who: browser.Viewer) -> bool:
    return who.role == "manager" or who.role in VIEW_ROLES


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _hub(request: Request, ctx: Context) -> Hub:
    state = request.app.state
    if not hasattr(state, "dashboard_hub"):

        def build(site: str) -> dashboard_figures.Snapshot:
            with ctx.sessions.begin() as db:
                return dashboard_figures.snapshot(db, site, ctx.clock.now())

        feed = ChangeFeed(ctx.engine)
        state.dashboard_hub = Hub(feed, build, lambda: ctx.clock.now().timestamp())
    hub: Hub = state.dashboard_hub
    return hub


@router.get("", response_class=HTMLResponse)
def page(request: Request, ctx: Context, where: Source, site: str | None = None) -> Response:
    who = browser.viewer(request, ctx)
    if who is None:
        return _to("/dashboard/login")
    if not _may_view(who):
        refused = render.login(who.lang, who.csrf, error="no_role", signed_in=True)
        return HTMLResponse(refused, status_code=403)
    with ctx.sessions.begin() as db:
        codes = dashboard_figures.site_codes(db)
        chosen = site if site in codes else (codes[0] if codes else None)
        snap = dashboard_figures.snapshot(db, chosen, ctx.clock.now()) if chosen else None
        audit(db, who.username, where, "dashboard_view", f"site:{chosen}", at=ctx.clock.now())
    html = render.page(
        snap,
        who.lang,
        user=who.username,
        role=who.role,
        csrf=who.csrf,
        can_ack=who.role in ACK_ROLES,
        sites=codes,
        notice=request.query_params.get("notice"),
    )
    return HTMLResponse(html)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: Context, lang: str = "zh-CN") -> Response:
    if browser.viewer(request, ctx) is not None:
        return _to("/dashboard")
    token = browser.new_login_token()
    response = HTMLResponse(render.login(lang, token))
    browser.set_cookie(response, request, ctx, browser.LOGIN_COOKIE, token, LOGIN_COOKIE_S)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    ctx: Context,
    where: Source,
    seen: SeenLocks,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    totp: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    browser.check_form(request, csrf, request.cookies.get(browser.LOGIN_COOKIE))
    try:
        signed = sign_in(
            ctx.sessions,
            ctx.pd,
            ctx.api,
            seen,
            username,
            password,
            totp or None,
            where,
            ctx.clock.now(),
            through="dashboard",
        )
    except Problem as refusal:
        error = {
            Code.TOO_MANY_ATTEMPTS: "throttled",
            Code.SECOND_FACTOR_REQUIRED: "second_factor",
            Code.BAD_SECOND_FACTOR: "second_factor",
        }.get(refusal.code, "bad_login")
        return HTMLResponse(
            render.login("zh-CN", csrf, error=error, username=username),
            status_code=refusal.status,
            headers=refusal.headers,
        )
    response = _to("/dashboard")
    max_age = ctx.api.session_hours * 3600
    browser.set_cookie(response, request, ctx, browser.COOKIE, signed.token, max_age)
    browser.clear_cookie(response, request, ctx, browser.LOGIN_COOKIE)
    return response


@router.post("/logout", response_class=RedirectResponse)
def logout(
    request: Request, ctx: Context, where: Source, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    who = browser.viewer(request, ctx)
    response = _to("/dashboard/login")
    if who is not None:
        browser.check_form(request, csrf, who.csrf)
        with ctx.sessions.begin() as db:
            staff_sessions.end(db, who.token)
            audit(db, who.username, where, "logout", "dashboard", at=ctx.clock.now())
    browser.clear_cookie(response, request, ctx, browser.COOKIE)
    return response


@router.post("/language", response_class=RedirectResponse)
def language(
    request: Request,
    ctx: Context,
    lang: Annotated[str, Form(max_length=8)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    who = browser.viewer(request, ctx)
    if who is None:
        return _to("/dashboard/login")
    browser.check_form(request, csrf, who.csrf)
    with ctx.sessions.begin() as db:
        staff_preferences.set_language(db, who.user_id, lang)
    return _to("/dashboard")


@router.post("/alarms/{alarm_id}/acknowledge", response_class=RedirectResponse)
def acknowledge(
    alarm_id: PathId,
    request: Request,
    ctx: Context,
    where: Source,
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    who = browser.viewer(request, ctx)
    if who is None:
        return _to("/dashboard/login")
    browser.check_form(request, csrf, who.csrf)
    if who.role not in ACK_ROLES:  # a page in the viewer's language, as for any refusal here
        return HTMLResponse(render.refused(who.lang, "no_ack_role"), status_code=403)
    try:
        with ctx.sessions.begin() as db:
            alarms.acknowledge(db, alarm_id, who.username, where, note, ctx.clock.now())
    except Problem as refusal:
        if refusal.status >= 500:
            raise
        return _to(f"/dashboard?notice={refusal.code}")
    return _to("/dashboard")


@router.get("/passes", response_class=HTMLResponse)
def pass_rules_page(request: Request, ctx: Context) -> Response:
    """Annual-pass renewal rules: managers change them, finance and auditors read them."""
    who = browser.viewer(request, ctx)
    if who is None:
        return _to("/dashboard/login")
    if not _may_view(who):
        return HTMLResponse(render.refused(who.lang, "no_role"), status_code=403)
    with ctx.sessions.begin() as db:
        products = pass_rule_form.rows(db)
    return HTMLResponse(
        _passes_page(who, products, request.query_params.get("notice")), status_code=200
    )


@router.post("/passes/{product_id}/rule", response_class=HTMLResponse)
async def set_pass_rule(
    product_id: PathId, request: Request, ctx: Context, where: Source
) -> Response:
    """Save one product's rule from its form (pass_rules.put: checked, audited). A refused
    form comes back with what was typed and, above it, which field and why (422)."""
    from starlette.concurrency import run_in_threadpool

    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and len(v) < 200}
    return await run_in_threadpool(_set_pass_rule, product_id, form, request, ctx, where)


def _set_pass_rule(
    product_id: int, form: dict[str, str], request: Request, ctx: Context, where: str
) -> Response:
    who = browser.viewer(request, ctx)
    if who is None:
        return _to("/dashboard/login")
    browser.check_form(request, form.get("csrf", ""), who.csrf)
    if who.role != "manager":
        return HTMLResponse(render.refused(who.lang, "rule_not_allowed"), status_code=403)
    words = Words(who.lang, ZoneInfo("UTC"))
    try:
        rule = pass_rule_form.parse(form)
        with ctx.sessions.begin() as db:
            pass_rules.put(
                db, product_id, rule, actor=who.username, source=where, now=ctx.clock.now()
            )
    except pass_rule_form.FormError as bad:
        error = f"{bad.field}: {words(bad.why)}"
    except Problem as refusal:
        if refusal.status >= 500:
            raise
        error = refusal.zh if words.zh else refusal.en
    else:
        return _to(f"/dashboard/passes?notice=pass_rule_saved#product-{product_id}")
    with ctx.sessions.begin() as db:
        products = pass_rule_form.rows(db)
    row = next((row for row in products if row.id == product_id), None)
    if row is None:  # no such annual product
        return HTMLResponse(render.refused(who.lang, error), status_code=404)
    row.form, row.error = {**row.form, **form}, error
    return HTMLResponse(_passes_page(who, products, None), status_code=422)


def _passes_page(who: browser.Viewer, products: list[Any], notice: str | None) -> str:
    return render.passes(
        who.lang,
        products,
        user=who.username,
        role=who.role,
        csrf=who.csrf,
        can_edit=who.role == "manager",
        levels=pass_rules.LEVEL_NAMES,
        notice=notice,
    )


@router.get("/live", response_class=StreamingResponse)
async def live(request: Request, ctx: Context, site: str = "") -> Response:
    """Server-sent events: ``snapshot`` (every section, rendered) now and on each change;
    ``signed_out`` once the session has ended, at the start or on any later tick (the page goes
    to the sign-in form), and the stream ends."""
    from starlette.concurrency import run_in_threadpool

    who = await run_in_threadpool(browser.viewer, request, ctx)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if who is None or not _may_view(who):

        async def gone() -> AsyncIterator[str]:
            yield SIGNED_OUT

        return StreamingResponse(gone(), media_type="text/event-stream", headers=headers)
    hub = _hub(request, ctx)
    stream = hub.stream(
        site, who.lang, who.role in ACK_ROLES, lambda: browser.still_signed_in(who, ctx)
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
