"""Annual-pass renewal rules set by a manager over the API or an operator on the command line,
on SQLite and PostgreSQL: checked before anything is written (each field's refusal names it),
replaced whole, audited with before and after, and applied to the next renewal asked."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.core.errors import Code, Problem
from cloud.models import AnnualPass, AuditEntry, PassRule
from cloud.services import pass_rules
from cloud.services.catalogue import add_product
from tests.cloud.http_calls import bearer, problem
from tests.cloud.test_annual_passes import annual, ask, at_site, expiry, sell_pass  # noqa: F401

RULE = {
    "renew_before_days": 60,
    "grace_days": 0,
    "lapse_limit_days": 30,
    "price_fen": 25000,
    "level_discounts": {"regular": 10},
}


def product_of(office, pass_id: int) -> int:
    with office.sessions() as session:
        return session.get(AnnualPass, pass_id).product_id


def test_a_manager_sets_a_rule_and_the_next_renewal_follows_it(api, office, annual):  # noqa: F811
    _, pass_id = sell_pass(office, annual)
    product = product_of(office, pass_id)
    boss = bearer(api, "boss")
    before = api.get(f"/api/v1/products/{product}/pass-rule", headers=boss).json()
    assert before["explicit"] is False and before["renew_before_days"] == 30
    answer = api.put(f"/api/v1/products/{product}/pass-rule", json=RULE, headers=boss)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"product_id": product, "explicit": True, **RULE}
    asked = ask(office, pass_id, at_site(expiry(office) - timedelta(days=50)))
    assert asked.order.total_fen == 22500  # 25000 less the regular level's 10 %
    with office.sessions() as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "set_pass_rule")
        ).all()
    assert entry.actor == "boss" and entry.target == f"product:{product}"
    assert entry.detail["before"] is None and entry.detail["after"]["price_fen"] == 25000


def test_a_rule_is_replaced_whole_what_is_left_out_takes_the_default(api, office, annual):  # noqa: F811
    _, pass_id = sell_pass(office, annual)
    product = product_of(office, pass_id)
    boss = bearer(api, "boss")
    api.put(f"/api/v1/products/{product}/pass-rule", json=RULE, headers=boss)
    answer = api.put(f"/api/v1/products/{product}/pass-rule", json={"grace_days": 10}, headers=boss)
    assert answer.json()["price_fen"] is None and answer.json()["level_discounts"] == {}
    assert answer.json()["renew_before_days"] == 30 and answer.json()["grace_days"] == 10


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grace_days": 40, "lapse_limit_days": 30}, "grace_days"),
        ({"level_discounts": {"platinum": 10}}, "level_discounts"),
    ],
)
def test_a_rule_a_renewal_could_not_apply_is_refused_naming_the_field(
    api,
    office,
    annual,  # noqa: F811
    body,
    field,
):
    _, pass_id = sell_pass(office, annual)
    product = product_of(office, pass_id)
    answer = api.put(
        f"/api/v1/products/{product}/pass-rule", json=body, headers=bearer(api, "boss")
    )
    refused = problem(answer, 422, "bad_pass_rule")
    assert refused["field"] == field and field in refused["message_en"]
    with office.sessions() as session:
        assert session.get(PassRule, product) is None  # nothing written


@pytest.mark.parametrize(
    "body",
    [
        {"price_fen": -1},
        {"renew_before_days": -5},
        {"level_discounts": {"gold": 150}},
        {"lapse_limit_days": 10**12},
    ],
)
def test_numbers_out_of_range_are_a_422_before_the_service(api, office, annual, body):  # noqa: F811
    _, pass_id = sell_pass(office, annual)
    product = product_of(office, pass_id)
    answer = api.put(
        f"/api/v1/products/{product}/pass-rule", json=body, headers=bearer(api, "boss")
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"


def test_the_service_refuses_what_the_api_bounds_would_have(office):
    """The CLI reaches the service without pydantic: the service's own checks are the rule."""
    for rule, field in (
        (pass_rules.Rule(price_fen=-1), "price_fen"),
        (pass_rules.Rule(level_discounts={"gold": 101}), "level_discounts.gold"),
        (pass_rules.Rule(renew_before_days=-1), "renew_before_days"),
    ):
        with pytest.raises(Problem) as refused:
            pass_rules.check(rule)
        assert refused.value.code is Code.BAD_PASS_RULE and refused.value.extra["field"] == field


def test_only_an_annual_product_has_a_rule_and_only_a_manager_sets_it(api, office):
    day = office.products["day"]
    boss, till = bearer(api, "boss"), bearer(api, "till1")
    refused = problem(
        api.put(f"/api/v1/products/{day}/pass-rule", json={}, headers=boss), 422, "bad_pass_rule"
    )
    assert refused["field"] == "product_id"
    problem(api.get("/api/v1/products/999999/pass-rule", headers=boss), 404, "not_found")
    problem(api.put(f"/api/v1/products/{day}/pass-rule", json={}, headers=till), 403, "forbidden")


def test_the_pass_rule_commands_set_show_and_refuse_in_one_line(db_url, office):
    tool = str(Path(sys.executable).with_name("scenic-cloud"))
    env = {**os.environ, "SCENIC_DB_URL": db_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, "pass-rule", *args], capture_output=True, text=True, env=env)

    with office.sessions.begin() as session:
        add_product(
            session,
            {
                "site": "S1",
                "code": "YEAR",
                "name_zh": "年卡",
                "name_en": "Year",
                "kind": "annual",
                "validity_days": 365,
                "entries": 0,
            },
            [{"price_type": "adult", "amount_fen": 30000, "peak_amount_fen": None}],
        )
    shown = run("show", "--product", "YEAR")
    assert shown.returncode == 0 and "defaults" in shown.stdout, shown.stderr
    made = run("set", "--product", "YEAR", "--price-fen", "20000", "--discount", "gold=15")
    assert made.returncode == 0 and "20000 fen" in made.stdout, made.stderr
    assert "gold" in run("show", "--product", "YEAR").stdout
    for bad, says in (
        (("--discount", "gold=150"), "level_discounts.gold"),
        (("--discount", "gold"), "LEVEL=PERCENT"),
        (("--grace-days", "400", "--lapse-limit-days", "365"), "grace_days"),
    ):
        refused = run("set", "--product", "YEAR", *bad)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    missing = run("show", "--product", "NOPE")
    assert missing.returncode == 2 and "NOPE" in missing.stderr
