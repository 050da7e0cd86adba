"""The dashboard over HTTP: who may see it, the session cookie, CSRF on every form, no CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.api.app import create_app
from cloud.api.context import CloudContext
from cloud.db import make_engine, session_factory
from cloud.models import Alarm, Site, StaffPreference, User
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.clock import ManualClock
from simulators.busy_day import MORNING
from simulators.databases import sqlite_database
from tests.stored_passwords import stored_hash

PASSWORDS = {"boss": "boss-password", "books": "books-password", "till1": "till1-password"}


@pytest.fixture
def app(tmp_path):
    engine = make_engine(sqlite_database(tmp_path))
    sessions = session_factory(engine)
    with sessions.begin() as db:
        db.add(Site(code="S1", name_zh="云山景区", name_en="Cloud Mountain"))
        for name, role in (("boss", "manager"), ("books", "finance"), ("till1", "cashier")):
            db.add(User(username=name, password_hash=stored_hash(PASSWORDS[name]), role=role))
        db.flush()
        db.add(Alarm(site="S1", node="G1", seq=1, alarm="fire_alarm", at=MORNING, detail={}))
    context = CloudContext(
        engine=engine,
        sessions=sessions,
        root=keystore.generate("root", "R1"),
        issuer=None,  # type: ignore[arg-type]  # the dashboard signs nothing
        pd=PersonalData(bytes(32)),
        providers={},
        clock=ManualClock(MORNING),
    )
    yield create_app(context)
    engine.dispose()


def browser(app, base_url="http://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False)


def token_in(html: str) -> str:
    return re.search(r'name="csrf" (?:value|content)="([^"]*)"', html).group(1)


def sign_in(client: TestClient, username="boss"):
    form = client.get("/dashboard/login")
    answer = client.post(
        "/dashboard/login",
        data={"username": username, "password": PASSWORDS[username], "csrf": token_in(form.text)},
    )
    return answer


def test_a_browser_that_is_not_signed_in_is_sent_to_the_sign_in_form(app):
    answer = browser(app).get("/dashboard")
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"


def test_signing_in_keeps_the_session_in_an_httponly_samesite_strict_cookie(app):
    answer = sign_in(browser(app))
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "scenic_dashboard=" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain HTTP on the LAN: a Secure cookie would never return


def test_behind_tls_the_session_cookie_is_secure(app):
    answer = sign_in(browser(app, "https://testserver"))
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "scenic_dashboard=" in c)
    assert "Secure" in cookie


def test_a_wrong_password_shows_the_form_again_with_the_reason(app):
    client = browser(app)
    form = client.get("/dashboard/login")
    answer = client.post(
        "/dashboard/login",
        data={"username": "boss", "password": "nope", "csrf": token_in(form.text)},
    )
    assert answer.status_code == 401 and "用户名或密码错误" in answer.text
    assert "scenic_dashboard=" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_form_posted_without_its_own_token_is_refused(app):
    answer = browser(app).post(
        "/dashboard/login", data={"username": "boss", "password": PASSWORDS["boss"], "csrf": "x"}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "csrf_failed"


def test_a_form_without_the_sessions_csrf_token_changes_nothing(app):
    client = browser(app)
    sign_in(client)
    answer = client.post("/dashboard/language", data={"lang": "en", "csrf": "guessed"})
    assert answer.status_code == 403 and answer.json()["code"] == "csrf_failed"
    with app.state.context.sessions() as db:
        assert db.scalars(select(StaffPreference)).all() == []


def test_a_form_posted_from_another_site_is_refused_even_with_the_token(app):
    client = browser(app)
    sign_in(client)
    token = token_in(client.get("/dashboard").text)
    answer = client.post(
        "/dashboard/language",
        data={"lang": "en", "csrf": token},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 403


def test_the_chosen_language_is_remembered_for_the_user(app):
    client = browser(app)
    sign_in(client)
    token = token_in(client.get("/dashboard").text)
    assert client.post("/dashboard/language", data={"lang": "en", "csrf": token}).status_code == 303
    other = browser(app)
    sign_in(other)
    page = other.get("/dashboard").text
    assert '<html lang="en">' in page and "Needs attention" in page


def test_finance_sees_the_dashboard_read_only_and_cannot_acknowledge_alarms(app):
    client = browser(app)
    sign_in(client, "books")
    page = client.get("/dashboard")
    assert page.status_code == 200 and "/acknowledge" not in page.text
    answer = client.post(
        "/dashboard/alarms/1/acknowledge", data={"note": "seen", "csrf": token_in(page.text)}
    )
    assert answer.status_code == 403
    with app.state.context.sessions() as db:
        assert db.get(Alarm, 1).status == "open"


def test_a_browser_refused_an_acknowledgement_gets_a_page_in_its_language_not_json(app):
    client = browser(app)
    sign_in(client, "books")
    token = token_in(client.get("/dashboard").text)
    answer = client.post("/dashboard/alarms/1/acknowledge", data={"note": "x", "csrf": token})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "该账号无权确认告警" in answer.text and 'href="/dashboard"' in answer.text
    assert client.post("/dashboard/language", data={"lang": "en", "csrf": token}).status_code == 303
    english = client.post("/dashboard/alarms/1/acknowledge", data={"note": "x", "csrf": token})
    assert english.status_code == 403 and '<html lang="en">' in english.text
    assert "This account may not acknowledge alarms" in english.text


def test_a_manager_acknowledges_an_alarm_from_the_page(app):
    client = browser(app)
    sign_in(client)
    token = token_in(client.get("/dashboard").text)
    answer = client.post("/dashboard/alarms/1/acknowledge", data={"note": "drill", "csrf": token})
    assert answer.status_code == 303
    again = client.post("/dashboard/alarms/1/acknowledge", data={"note": "x", "csrf": token})
    assert again.headers["location"] == "/dashboard?notice=alarm_acknowledged"
    assert "已由他人先行确认" in client.get(again.headers["location"]).text


def test_a_cashier_may_not_see_the_dashboard(app):
    client = browser(app)
    sign_in(client, "till1")
    refused = client.get("/dashboard")
    assert refused.status_code == 403 and "该账号无权查看看板" in refused.text
    assert "<svg" not in refused.text and 'action="/dashboard/logout"' in refused.text


def test_signing_out_ends_the_session_not_just_the_cookie(app):
    client = browser(app)
    answer = sign_in(client)
    session = re.search(r"scenic_dashboard=([^;]+)", answer.headers["set-cookie"]).group(1)
    token = token_in(client.get("/dashboard").text)
    assert client.post("/dashboard/logout", data={"csrf": token}).status_code == 303
    stale = browser(app)
    stale.cookies.set("scenic_dashboard", session, path="/dashboard")
    assert stale.get("/dashboard").headers["location"] == "/dashboard/login"
    me = browser(app).get("/api/v1/auth/me", headers={"Authorization": f"Bearer {session}"})
    assert me.status_code == 401


def test_the_page_loads_only_its_own_script_and_styles(app):
    client = browser(app)
    sign_in(client)
    page = client.get("/dashboard")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    for asset in ("/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css"):
        assert client.get(asset).status_code == 200
    assert "<svg" in page.text  # charts are drawn by the server


def test_a_signed_out_browser_is_told_so_on_the_live_stream(app):
    with browser(app).stream("GET", "/dashboard/live?site=S1") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert "event: signed_out" in answer.read().decode()


def events_of(answer):
    """The stream's event names, as they arrive."""
    for line in answer.iter_lines():
        if line.startswith("event: "):
            yield line.removeprefix("event: ")


def test_signing_out_ends_a_live_stream_that_is_already_open(app):
    client = browser(app)
    sign_in(client)
    token = token_in(client.get("/dashboard").text)
    with client.stream("GET", "/dashboard/live?site=S1") as answer:
        events = events_of(answer)
        assert next(events) == "snapshot"
        assert client.post("/dashboard/logout", data={"csrf": token}).status_code == 303
        assert next(events) == "signed_out"  # the sign-out's commit wakes the stream
        assert list(events) == []  # and it ends


def test_a_live_stream_ends_when_its_session_expires(app):
    client = browser(app)
    sign_in(client)
    clock = app.state.context.clock
    with client.stream("GET", "/dashboard/live?site=S1") as answer:
        events = events_of(answer)
        assert next(events) == "snapshot"
        clock.advance(hours=app.state.context.api.session_hours)
        with app.state.context.sessions.begin() as db:  # any change (an ingest) wakes streams
            db.add(Alarm(site="S1", node="G1", seq=2, alarm="forced", at=clock.now(), detail={}))
        assert next(events) == "signed_out"
        assert list(events) == []


def test_a_double_entry_alarm_names_the_ticket_and_the_gates(app):
    with app.state.context.sessions.begin() as db:
        db.add(
            Alarm(
                site="S1",
                node="G2",
                seq=7,
                alarm="double_entry",
                at=MORNING,
                detail={
                    "alarm": "double_entry",
                    "arg": 2,
                    "ticket": "0A1B",
                    "allowed": 1,
                    "nodes": ["G1", "G2"],
                },
            )
        )
    client = browser(app)
    sign_in(client)
    page = client.get("/dashboard").text
    assert "重复入园" in page and "0A1B" in page and "G1, G2" in page


def test_a_face_bind_conflict_alarm_names_the_ticket_and_the_gate_that_bound_first(app):
    with app.state.context.sessions.begin() as db:
        db.add(
            Alarm(
                site="S1",
                node="G2",
                seq=9,
                alarm="face_bind_conflict",
                at=MORNING,
                detail={"ticket": "0C2D", "recorded_by": "G1", "distance": 0.74},
            )
        )
    client = browser(app)
    sign_in(client)
    page = client.get("/dashboard").text
    assert "年卡人脸绑定冲突" in page and "0C2D" in page and "G1" in page


def test_a_manager_with_a_second_factor_signs_in_to_the_dashboard_only_with_its_code(app):
    import pyotp

    from cloud.services import second_factor

    context = app.state.context
    with context.sessions.begin() as db:
        boss = db.scalar(select(User).where(User.username == "boss"))
        secret = second_factor.enrol(db, boss, context.pd).secret
        at = context.clock.now()
        second_factor.confirm(db, boss, context.pd, pyotp.TOTP(secret).at(at), at)
    client = browser(app)
    without = sign_in(client)
    assert without.status_code == 401 and "动态验证码" in without.text
    assert "scenic_dashboard=" not in without.headers.get("set-cookie", "")
    context.clock.advance(60)  # the next code: each one works once
    form = client.get("/dashboard/login")
    answer = client.post(
        "/dashboard/login",
        data={
            "username": "boss",
            "password": PASSWORDS["boss"],
            "csrf": token_in(form.text),
            "totp": pyotp.TOTP(secret).at(context.clock.now()),
        },
    )
    assert answer.status_code == 303 and "scenic_dashboard=" in answer.headers["set-cookie"]


# --- annual-pass renewal rules (/dashboard/passes) ----------------------------------------------


@pytest.fixture
def annual(app):
    """An annual pass product of 298 yuan in the dashboard's database."""
    from cloud.models import Price, Product

    sessions = app.state.context.sessions
    with sessions.begin() as db:
        product = Product(site="S1", code="YEAR", name_zh="年卡", name_en="Annual pass",
                          kind="annual", validity_days=365, entries=0)  # fmt: skip
        db.add(product)
        db.flush()
        db.add(Price(product_id=product.id, price_type="adult", amount_fen=29800))
        return product.id


def rule_form(page: str, **fields: str) -> dict[str, str]:
    form = {"csrf": token_in(page), "renew_before_days": "30", "grace_days": "30",
            "lapse_limit_days": "365", "price_yuan": "", "level_gold": "", "level_silver": "",
            "level_regular": ""}  # fmt: skip
    return {**form, **fields}


def test_a_manager_sets_a_renewal_rule_in_yuan_and_it_is_kept_in_fen_and_audited(app, annual):
    from cloud.models import AuditEntry, PassRule

    client = browser(app)
    sign_in(client)
    page = client.get("/dashboard/passes")
    assert page.status_code == 200 and "年卡续卡规则" in page.text and "默认规则" in page.text
    answer = client.post(
        f"/dashboard/passes/{annual}/rule",
        data=rule_form(page.text, grace_days="15", price_yuan="268.50", level_gold="10"),
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/dashboard/passes?notice=pass_rule_saved")
    with app.state.context.sessions() as db:
        rule = db.get(PassRule, annual)
        assert (rule.grace_days, rule.price_fen, rule.level_discounts) == (15, 26850, {"gold": 10})
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "set_pass_rule"))
        assert (entry.actor, entry.target) == ("boss", f"product:{annual}")
    shown = client.get("/dashboard/passes?notice=pass_rule_saved").text
    assert "续卡规则已保存" in shown and 'value="268.50"' in shown and "已设置" in shown


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"grace_days": "two weeks"}, "grace_days: 须为整数"),
        ({"price_yuan": "12.345"}, "price_fen: 须为金额"),
        ({"level_gold": "150"}, "level_discounts.gold"),
        ({"lapse_limit_days": "-1"}, "lapse_limit_days"),
    ],
)
def test_a_rule_the_form_or_the_service_refuses_comes_back_422_naming_the_field(
    app, annual, fields, said
):
    from cloud.models import PassRule

    client = browser(app)
    sign_in(client)
    page = client.get("/dashboard/passes").text
    answer = client.post(f"/dashboard/passes/{annual}/rule", data=rule_form(page, **fields))
    assert answer.status_code == 422
    assert said in answer.text and 'role="alert"' in answer.text
    assert f'value="{next(iter(fields.values()))}"' in answer.text  # what was typed, shown again
    with app.state.context.sessions() as db:
        assert db.get(PassRule, annual) is None  # nothing kept


def test_finance_reads_the_rules_but_may_not_change_them_and_a_form_needs_its_csrf(app, annual):
    from cloud.models import PassRule

    client = browser(app)
    sign_in(client, "books")
    page = client.get("/dashboard/passes")
    assert page.status_code == 200 and "disabled" in page.text and "保存规则" not in page.text
    refused = client.post(f"/dashboard/passes/{annual}/rule", data=rule_form(page.text))
    assert refused.status_code == 403 and "需经理" in refused.text
    boss = browser(app)
    sign_in(boss)
    forged = boss.post(
        f"/dashboard/passes/{annual}/rule", data={**rule_form(page.text), "csrf": "x"}
    )
    assert forged.status_code in (400, 403)
    with app.state.context.sessions() as db:
        assert db.get(PassRule, annual) is None
