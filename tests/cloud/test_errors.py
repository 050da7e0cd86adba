"""The cloud's error table: every code has a status and both texts, and nobody refuses around it."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import pytest

from cloud.core.errors import TEXT, THING_ZH, Code, Problem, Thing, framework_problem, not_found

CLOUD = Path(__file__).resolve().parents[2] / "cloud"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _refusals() -> list[tuple[str, ast.Call]]:
    """Every ``Problem(...)`` and ``not_found(...)`` call in cloud/, with where it is."""
    found = []
    for path in sorted(CLOUD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
                "Problem",
                "not_found",
            ):
                found.append((f"{path.relative_to(CLOUD.parent)}:{node.lineno}", node))
    return found


def test_every_code_has_a_status_and_chinese_and_english_text():
    assert set(TEXT) == set(Code)
    for code, text in TEXT.items():
        assert 400 <= text.status <= 599, code
        assert text.en.strip() and text.zh.strip() and text.en != text.zh, code


def test_every_thing_a_refusal_can_name_reads_in_chinese_too():
    assert set(THING_ZH) == set(Thing) and all(THING_ZH.values())


def test_no_refusal_in_the_cloud_passes_a_status_or_a_text_of_its_own():
    calls = _refusals()
    assert len(calls) > 80  # the walk found the call sites, not an empty tree
    for where, call in calls:
        assert len(call.args) == 1, f"{where}: only the code is positional"
        assert not isinstance(call.args[0], ast.Constant), f"{where}: a literal, not a Code"
        for keyword in call.keywords:
            assert keyword.arg not in ("en", "zh", "status", "title"), f"{where}: see TEXT"
            value = keyword.value
            parts = value.values if isinstance(value, ast.JoinedStr) else [value]
            words = [p.value for p in parts if isinstance(p, ast.Constant)]
            assert not any(" " in str(w) for w in words), f"{where}: {keyword.arg}= is a message"


def test_every_refusal_names_a_code_and_fills_every_field_of_its_text():
    for where, call in _refusals():
        first = call.args[0]
        if getattr(first, "id", "") == "too_late":  # refunds.py passes one of two codes
            continue
        assert isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name), where
        given = {k.arg for k in call.keywords if k.arg} - {"headers"}
        if call.func.id == "not_found":  # type: ignore[attr-defined]
            assert first.value.id == "Thing", where
            code, given = Code.NOT_FOUND, given | {"what"}
        else:
            assert first.value.id == "Code", where
            code = Code[first.attr]
        wanted = _fields(TEXT[code].en) | _fields(TEXT[code].zh)
        assert wanted <= given, f"{where}: {code} needs {sorted(wanted - given)}"


def test_a_refusal_renders_as_problem_json_with_its_details_in_both_languages():
    refusal = Problem(Code.CLIENT_HOLD_LIMIT, held=9, limit=10)
    assert refusal.status == 429
    assert json.loads(json.dumps(refusal.body())) == {
        "type": "about:blank",
        "status": 429,
        "code": "client_hold_limit",
        "title": "Unpaid orders from this address already hold 9 places (at most 10): "
        "pay for them or let them expire",
        "message_en": "Unpaid orders from this address already hold 9 places (at most 10): "
        "pay for them or let them expire",
        "message_zh": "该地址未支付订单已占9张（上限10张），请先支付或等待释放",
        "held": 9,
        "limit": 10,
    }


def test_not_found_names_what_is_missing_in_each_language():
    body = not_found(Thing.PAYMENT_CHANNEL).body()
    assert (body["status"], body["code"]) == (404, "not_found")
    assert body["message_en"] == "payment channel not found"
    assert body["message_zh"] == "支付渠道不存在"
    assert body["what"] == "payment channel"


@pytest.mark.parametrize(
    ("status", "code"), [(404, "not_found"), (405, "method_not_allowed"), (413, "http_error")]
)
def test_errors_the_framework_raises_keep_its_status_and_get_a_code(status, code):
    body = framework_problem(status, "Request Entity Too Large")
    assert (body["status"], body["code"]) == (status, code)
    assert body["message_en"] and body["message_zh"]
