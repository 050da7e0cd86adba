"""Reports: every figure is the sum of the rows it stands for (order items, passages, refunds,
shifts, inventory), on SQLite and PostgreSQL; exports read back (csv, openpyxl) equal the JSON."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from cloud.models import (
    CashierShift,
    GateEventRecord,
    Inventory,
    Order,
    OrderItem,
    Refund,
)
from cloud.services import reports
from keys.clock import ManualClock, site_today
from tests.cloud.conftest import SITE_TZ, now
from tests.cloud.site_day import make_day
from tests.conftest import TEST_AT


@pytest.fixture
def day(office):
    return make_day(office)


def scope(office):
    today = site_today(ManualClock(TEST_AT), SITE_TZ)
    with office.sessions() as db:
        return reports.scope(db, "S1", today, office.day)


def summary(office, name, by):
    return reports.summarise(reports.stream(office.sessions, name, scope(office)),
                             reports.report(name, by), by)  # fmt: skip


def rows(office, name):
    return list(reports.stream(office.sessions, name, scope(office)))


@pytest.mark.parametrize("by", reports.REPORTS["sales"].by)
def test_sales_by_each_grouping_add_up_to_the_paid_order_items(office, day, by):
    figures = summary(office, "sales", by)
    with office.sessions() as db:
        quantity, amount = db.execute(
            select(func.sum(OrderItem.quantity), func.sum(OrderItem.quantity * OrderItem.unit_fen))
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.paid_at.is_not(None))
        ).one()
    assert figures["total"] == {"quantity": quantity, "amount_fen": amount}
    assert sum(r["amount_fen"] for r in figures["rows"]) == amount
    assert sum(r["quantity"] for r in figures["rows"]) == quantity


def test_sales_by_channel_and_price_type_tell_window_cash_from_sandbox(office, day):
    by_provider = {r["provider"]: r for r in summary(office, "sales", "provider")["rows"]}
    assert by_provider["cash"]["quantity"] == 1 and by_provider["sandbox"]["quantity"] == 9
    by_type = {
        r["price_type"]: r["quantity"] for r in summary(office, "sales", "price_type")["rows"]
    }
    assert by_type == {"adult": 7, "child": 3}  # plus the cash adult: 2 + 3 + 1 + 1 adults


@pytest.mark.parametrize("by", reports.REPORTS["entries"].by)
def test_entries_by_each_grouping_add_up_to_the_passages_in(office, day, by):
    figures = summary(office, "entries", by)
    with office.sessions() as db:
        passages_in = sum(
            1
            for data in db.scalars(
                select(GateEventRecord.data).where(GateEventRecord.kind == "passage")
            )
            if data["dir"] == "in"
        )
    assert passages_in == 6
    assert figures["total"]["entries"] == passages_in
    assert sum(r["entries"] for r in figures["rows"]) == passages_in


def test_entries_are_told_apart_by_gate_zone_hour_and_product(office, day):
    assert {r["gate"]: r["entries"] for r in summary(office, "entries", "gate")["rows"]} == {
        "G1": 3,
        "G2": 3,
    }
    assert {r["zone"]: r["entries"] for r in summary(office, "entries", "zone")["rows"]} == {
        1: 3,
        2: 3,
    }
    assert {r["hour"]: r["entries"] for r in summary(office, "entries", "hour")["rows"]} == {
        9: 2,
        10: 2,
        11: 2,
    }
    products = {r["product"]: r["entries"] for r in summary(office, "entries", "product")["rows"]}
    assert products == {"DAY": 3, "TIMED": 3}  # two adults, a child, then the timed order


def test_refunds_add_up_to_the_refund_rows(office, day):
    figures = summary(office, "refunds", "kind")
    with office.sessions() as db:
        amount, fee = db.execute(
            select(func.sum(Refund.amount_fen), func.sum(Refund.fee_fen))
        ).one()
    assert figures["total"]["amount_fen"] == amount and figures["total"]["fee_fen"] == fee
    assert figures["rows"] == [
        {"kind": "refund", "tickets": 3, "amount_fen": amount, "fee_fen": fee}
    ]


def test_a_cash_shift_shows_its_difference(office, day):
    (shift,) = rows(office, "shifts")
    with office.sessions() as db:
        stored = db.get(CashierShift, day.shift_id)
        assert stored is not None
    assert shift["difference_fen"] == -100 and shift["expected_fen"] == stored.expected_fen
    assert summary(office, "shifts", "cashier")["total"]["difference_fen"] == -100


def test_capacity_per_slot_adds_up_to_the_inventory(office, day):
    figures = summary(office, "capacity", "slot")
    with office.sessions() as db:
        capacity, taken = db.execute(
            select(func.sum(Inventory.capacity), func.sum(Inventory.taken))
        ).one()
    assert figures["total"] == {"capacity": capacity, "taken": taken}
    assert {r["slot"] for r in figures["rows"]} == {"day", "09:00-10:00"}


def test_the_in_park_curve_is_the_running_sum_of_entries_less_exits(office, day):
    passages = rows(office, "in_park")
    curve = reports.in_park_curve(iter(passages))
    assert [(p["hour"], p["in_park"]) for p in curve] == [(9, 2), (10, 4), (11, 6), (12, 5)]
    for point in curve:
        upto = [r for r in passages if r["day"] == point["day"] and r["hour"] <= point["hour"]]
        assert point["in_park"] == sum(r["entries"] - r["exits"] for r in upto)


def test_a_range_backwards_or_an_unknown_report_is_refused(office):
    from cloud.core.errors import Problem

    with pytest.raises(Problem) as info, office.sessions() as db:
        reports.scope(db, "S1", office.day, office.day - timedelta(days=1))
    assert info.value.code == "bad_range"
    with pytest.raises(Problem) as info:
        reports.report("sales", "gate")
    assert info.value.code == "bad_report"


# --- over HTTP, with exports --------------------------------------------------------------


def finance(api):
    answer = api.post(
        "/api/v1/auth/token", json={"username": "books", "password": "books-password"}
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def query(office, **extra):
    today = site_today(ManualClock(TEST_AT), SITE_TZ)
    return {"site": "S1", "from": today.isoformat(), "to": office.day.isoformat(), **extra}


def test_a_csv_export_reads_back_as_the_json_summary(api, office, day):
    auth = finance(api)
    answer = api.get("/api/v1/reports/sales", params=query(office, by="product"), headers=auth)
    assert answer.status_code == 200, answer.text
    exported = api.get(
        "/api/v1/reports/sales", params=query(office, by="product", format="csv"), headers=auth
    )
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [
        {
            "product": r["product"],
            "quantity": int(r["quantity"]),
            "amount_fen": int(r["amount_fen"]),
        }
        for r in table
    ] == answer.json()["rows"]


def test_an_xlsx_export_of_every_row_sums_to_the_summary(api, office, day):
    auth = finance(api)
    answer = api.get("/api/v1/reports/entries", params=query(office, by="gate"), headers=auth)
    exported = api.get(
        "/api/v1/reports/entries",
        params=query(office, format="xlsx", rows="detail"),
        headers=auth,
    )
    assert exported.status_code == 200, exported.text
    book = openpyxl.load_workbook(io.BytesIO(exported.content), read_only=True)
    header, *lines = list(book["entries"].iter_rows(values_only=True))
    assert header == reports.REPORTS["entries"].columns
    assert len(lines) == answer.json()["total"]["entries"] == 6
    per_gate: dict[str, int] = {}
    for line in lines:
        record = dict(zip(header, line, strict=True))
        per_gate[record["gate"]] = per_gate.get(record["gate"], 0) + record["entries"]
    assert per_gate == {r["gate"]: r["entries"] for r in answer.json()["rows"]}


def test_reading_a_report_is_audited_with_its_source(api, office, day):
    from cloud.models import AuditEntry

    api.get("/api/v1/reports/refunds", params=query(office), headers=finance(api))
    with office.sessions() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "read_report"))
    assert entry is not None and entry.actor == "books" and entry.target == "report:refunds"
    assert entry.source == "testclient"


def test_an_unknown_grouping_is_a_422_naming_the_reports(api, office):
    answer = api.get("/api/v1/reports/sales", params=query(office, by="gate"), headers=finance(api))
    assert answer.status_code == 422 and answer.json()["code"] == "bad_report"
    assert now() is not None


def test_the_in_park_report_by_hour_answers_the_curve_not_a_sum(api, office, day):
    answer = api.get(
        "/api/v1/reports/in_park", params=query(office, by="hour"), headers=finance(api)
    )
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    assert "measures" not in figures and "total" not in figures
    assert figures["rows"] == reports.in_park_curve(iter(rows(office, "in_park")))
    assert [(p["hour"], p["in_park"]) for p in figures["rows"]] == [
        (9, 2), (10, 4), (11, 6), (12, 5)
    ]  # fmt: skip


def test_a_sale_goes_through_while_an_export_is_half_read(office, day):
    from cloud.services.orders import LineRequest
    from tests.cloud.conftest import place_order

    stream = reports.stream(office.sessions, "sales", scope(office))
    first = next(stream)  # the export's read transaction is open, mid-way
    made = place_order(office, LineRequest(office.day_ticket, "adult", 1))  # takes the write lock
    rest = list(stream)
    assert made.order_no and first["order_no"] and len(rest) >= 1


def test_an_xlsx_export_survives_a_control_character_in_a_product_code(api, office, day):
    from sqlalchemy import update

    from cloud.models import Product

    with office.sessions.begin() as db:
        db.execute(update(Product).where(Product.code == "DAY").values(code="DAY\x07"))
    exported = api.get(
        "/api/v1/reports/sales",
        params=query(office, by="product", format="xlsx"),
        headers=finance(api),
    )
    assert exported.status_code == 200, exported.text
    book = openpyxl.load_workbook(io.BytesIO(exported.content), read_only=True)
    codes = [row[0] for row in book["sales"].iter_rows(min_row=2, values_only=True)]
    assert "DAY\ufffd" in codes


def test_an_xlsx_export_of_every_row_reads_back_as_the_rows_with_their_types(api, office, day):
    exported = api.get(
        "/api/v1/reports/sales",
        params=query(office, format="xlsx", rows="detail"),
        headers=finance(api),
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(exported.content), read_only=True)
    header, *lines = list(book["sales"].iter_rows(values_only=True))
    expected = rows(office, "sales")
    assert header == reports.REPORTS["sales"].columns
    assert [dict(zip(header, line, strict=True)) for line in lines] == expected
    assert all(type(r["amount_fen"]) is int and type(r["hour"]) is int for r in expected)
    assert all(r["at"].endswith("+08:00") for r in expected)  # the site's time zone, as text


HOSTILE_CODE = '=HYPERLINK("http://x","<&>")\x07'


def test_a_hostile_product_code_is_text_in_both_exports_never_a_formula(api, office, day):
    from sqlalchemy import update

    from cloud.models import Product

    with office.sessions.begin() as db:
        db.execute(update(Product).where(Product.code == "DAY").values(code=HOSTILE_CODE))
    auth = finance(api)
    xlsx = api.get(
        "/api/v1/reports/entries", params=query(office, format="xlsx", rows="detail"), headers=auth
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    cells = [row[5] for row in book["entries"].iter_rows(min_row=2)]
    hostile = [c for c in cells if c.value == HOSTILE_CODE[:-1] + "\ufffd"]
    assert len(hostile) == 3 and all(c.data_type == "s" and c.quotePrefix for c in hostile)
    csv_file = api.get(
        "/api/v1/reports/entries", params=query(office, format="csv", rows="detail"), headers=auth
    )
    table = list(csv.DictReader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert sum(1 for r in table if r["product"] == "'" + HOSTILE_CODE) == 3
