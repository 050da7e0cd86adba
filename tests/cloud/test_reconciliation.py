"""Reconciliation (自动对账): statement files with every kind of mismatch, matched to our
payments and refunds, resolved with a note by finance, and a day closed once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from cloud.core.errors import Code, Problem
from cloud.models import AuditEntry, Mismatch, Statement
from cloud.services.orders import LineRequest
from cloud.services.payments.payout import pay_out
from cloud.services.payments.provider import Notification
from cloud.services.payments.settle import apply_payment
from cloud.services.reconciliation import matching
from cloud.services.refunds import refund_tickets
from simulators.statement_files import WRITERS, Row, wechat_bill
from tests.cloud.conftest import now, place_order

DAY = date(2026, 12, 1)  # TEST_AT (13:30 UTC) is 21:30 that day in Beijing


class ChannelThatRefunds:
    """The payment channel's refund call (the network edge): it pays every refund asked."""

    def __init__(self, name: str) -> None:
        self.name = name

    def refund(self, order_no, provider_txn, refund_no, amount_fen, total_fen) -> str:
        return f"{self.name.upper()}-{refund_no}"


@dataclass
class Books:
    channel: str
    orders: dict[str, str]  # letter -> order no
    refunds: dict[str, str]  # letter -> refund no


def paid_order(office, channel: str, txn: str) -> str:
    made = place_order(office, LineRequest(office.day_ticket, "adult", 1))
    note = Notification(channel, made.order_no, txn, made.total_fen, True, {"txn": txn})
    with office.sessions.begin() as session:
        apply_payment(session, note, office.issuer, now())
    return made.order_no


def refunded(office, channel: str, order_no: str, paid_out: bool) -> str:
    providers = {channel: ChannelThatRefunds(channel)}
    with office.sessions.begin() as session:
        outcome = refund_tickets(
            session,
            order_no=order_no,
            ticket_numbers=None,
            providers=providers,
            root=office.root,
            actor="till1",
            source="test",
            now=now(),
        )
    if paid_out:
        assert pay_out(office.sessions, providers, outcome.refund_id) == "succeeded"
    return f"RF{outcome.refund_id}"


def books(office, channel: str) -> Books:
    """Orders A-F paid through ``channel`` (transaction ids TA..TF); A refunded and paid out,
    F refunded but the refund still pending at the channel."""
    orders = {x: paid_order(office, channel, f"T{x}") for x in "ABCDEF"}
    refunds = {
        "A": refunded(office, channel, orders["A"], paid_out=True),
        "F": refunded(office, channel, orders["F"], paid_out=False),
    }
    return Books(channel, orders, refunds)


def statement_rows(b: Books, fmt: str) -> list[Row]:
    """What the channel lists: A right, B for 10 yuan less, C missing, D twice, E revoked
    (not expressible in Alipay's list of finished business), Z not ours; refund A right,
    refund F done at the channel."""
    o = b.orders
    rows = [
        Row("payment", "TA", o["A"], 8000),
        Row("payment", "TB", o["B"], 7000),
        Row("payment", "TD", o["D"], 8000),
        Row("payment", "TD", o["D"], 8000),
        Row("payment", "TZ", "NOT-OURS-1", 5000),
        Row("payment", "TF", o["F"], 8000),
        Row("refund", "TA", o["A"], 7200, refund_no=b.refunds["A"]),  # 8000 less the 10% fee
        Row("refund", "TF", o["F"], 7200, refund_no=b.refunds["F"]),
    ]
    if fmt != "alipay":
        rows.append(Row("payment", "TE", o["E"], 8000, status="REVOKED"))
    else:
        rows.append(Row("payment", "TE", o["E"], 8000))
    return rows


def imported(office, b: Books, fmt: str, raw: bytes | None = None):
    with office.sessions.begin() as session:
        return matching.import_statement(
            session,
            channel=b.channel,
            day=DAY,
            fmt=fmt,
            raw=raw if raw is not None else WRITERS[fmt](statement_rows(b, fmt)),
            filename=f"{fmt}.csv",
            actor="books",
            source="test",
            now=now(),
        )


def found(office, **where) -> set[tuple[str, str, str]]:
    with office.sessions() as session:
        return {(m.kind, m.subject, m.key) for m in matching.list_mismatches(session, **where)}


@pytest.mark.parametrize("fmt", ["wechat", "alipay", "generic"])
def test_a_statement_lists_every_kind_of_mismatch_and_nothing_that_matches(office, fmt):
    channel = {"generic": "unionpay"}.get(fmt, fmt)
    b = books(office, channel)
    done = imported(office, b, fmt)
    expected = {
        ("amount_differs", "payment", "TB"),
        ("missing_theirs", "payment", "TC"),
        ("duplicate", "payment", "TD"),
        ("missing_ours", "payment", "TZ"),
        ("status_differs", "refund", b.refunds["F"]),
    }
    if fmt != "alipay":
        expected.add(("status_differs", "payment", "TE"))
    assert found(office) == expected
    assert done.lines == len(statement_rows(b, fmt))
    assert sum(done.mismatches.values()) == len(expected)


def test_an_amount_mismatch_shows_both_amounts_and_the_order(office):
    b = books(office, "wechat")
    imported(office, b, "wechat")
    with office.sessions() as session:
        (row,) = session.scalars(select(Mismatch).where(Mismatch.kind == "amount_differs"))
    assert (row.order_no, row.ours_fen, row.theirs_fen) == (b.orders["B"], 8000, 7000)


def test_a_refund_we_made_that_the_channel_does_not_list_is_missing_on_its_side(office):
    b = books(office, "wechat")
    rows = [r for r in statement_rows(b, "wechat") if r.refund_no != b.refunds["A"]]
    imported(office, b, "wechat", wechat_bill(rows))
    assert ("missing_theirs", "refund", b.refunds["A"]) in found(office)


def test_a_wechat_bill_cut_short_is_refused_whole(office):
    b = books(office, "wechat")
    rows = statement_rows(b, "wechat")
    with pytest.raises(Problem) as refused:
        imported(office, b, "wechat", wechat_bill(rows, declared=len(rows) + 1))
    assert refused.value.code is Code.BAD_STATEMENT
    with office.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Statement)) == 0


def test_an_alipay_bill_without_its_totals_is_refused(office):
    b = books(office, "alipay")
    raw = WRITERS["alipay"](statement_rows(b, "alipay"))
    cut = b"\r\n".join(line for line in raw.split(b"\r\n") if "合计".encode("gbk") not in line)
    with pytest.raises(Problem) as refused:
        imported(office, b, "alipay", cut)
    assert refused.value.code is Code.BAD_STATEMENT


def test_an_alipay_bill_in_utf8_is_refused_not_misread(office):
    b = books(office, "alipay")
    raw = WRITERS["alipay"](statement_rows(b, "alipay")).decode("gbk").encode("utf-8")
    with pytest.raises(Problem) as refused:
        imported(office, b, "alipay", raw)
    assert refused.value.code is Code.BAD_STATEMENT


def test_a_second_statement_for_the_same_channel_and_day_is_refused(office):
    b = books(office, "wechat")
    imported(office, b, "wechat")
    with pytest.raises(Problem) as refused:
        imported(office, b, "wechat")
    assert refused.value.code is Code.STATEMENT_IMPORTED


def resolve(office, mismatch_id, note="checked with the channel", actor="books"):
    with office.sessions.begin() as session:
        return matching.resolve(session, mismatch_id, note, actor=actor, source="test", now=now())


def close(office, channel="wechat"):
    with office.sessions.begin() as session:
        return matching.close_day(session, channel, DAY, actor="books", source="test", now=now())


def open_ids(office) -> list[int]:
    with office.sessions() as session:
        return [m.id for m in matching.list_mismatches(session, state="open")]


def test_finance_resolves_a_mismatch_once_with_a_note_and_it_is_audited(office):
    imported(office, books(office, "wechat"), "wechat")
    first = open_ids(office)[0]
    done = resolve(office, first, "refunded the customer by bank transfer")
    assert (done.state, done.resolved_by) == ("resolved", "books")
    with pytest.raises(Problem) as again:
        resolve(office, first)
    assert again.value.code is Code.ALREADY_RESOLVED
    with pytest.raises(Problem) as blank:
        resolve(office, open_ids(office)[0], "   ")
    assert blank.value.code is Code.NOTE_REQUIRED
    with office.sessions() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("reconcile_resolve") == 1 and "reconcile_import" in actions


def test_a_day_with_open_mismatches_cannot_be_closed(office):
    imported(office, books(office, "wechat"), "wechat")
    with pytest.raises(Problem) as refused:
        close(office)
    assert refused.value.code is Code.OPEN_MISMATCHES and refused.value.extra["count"] == 6


def test_a_closed_day_refuses_resolutions_imports_and_a_second_close(office):
    b = books(office, "wechat")
    imported(office, b, "wechat")
    ids = open_ids(office)
    for mismatch_id in ids:
        resolve(office, mismatch_id)
    closed = close(office)
    assert closed.resolved == len(ids)
    for attempt in (
        lambda: close(office),
        lambda: imported(office, b, "wechat"),
    ):
        with pytest.raises(Problem) as refused:
            attempt()
        assert refused.value.code in (Code.BOOKS_CLOSED,)
    with office.sessions() as session:
        assert session.get(Mismatch, ids[0]).note == "checked with the channel"


def test_closing_reports_the_statement_total_beside_ours(office):
    b = books(office, "wechat")
    imported(office, b, "wechat")
    for mismatch_id in open_ids(office):
        resolve(office, mismatch_id)
    closed = close(office)
    # The channel: A 80 + B 70 + D 80 twice + Z 50 + F 80 (E was revoked) - refunds 72 - 72.
    assert closed.statement_fen == 29600
    # Ours: six payments of 80 yuan less the two refunds of 72.
    assert closed.ours_fen == 6 * 8000 - 2 * 7200


def test_a_day_with_no_statement_cannot_be_closed(office):
    with pytest.raises(Problem) as refused:
        close(office, "alipay")
    assert refused.value.code is Code.NO_STATEMENT


def test_finance_reconciles_a_day_through_the_api_and_a_cashier_may_not(office, api):
    from tests.cloud.http_calls import bearer

    b = books(office, "wechat")
    raw = WRITERS["wechat"](statement_rows(b, "wechat"))
    url = f"/api/v1/reconciliation/statements?channel=wechat&day={DAY.isoformat()}"
    till = bearer(api, "till1")
    assert api.post(url, content=raw, headers=till).json()["code"] == "forbidden"
    books_ = bearer(api, "books")
    answer = api.post(url, content=raw, headers={**books_, "Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["mismatches"]["amount_differs"] == 1
    listed = api.get("/api/v1/reconciliation/mismatches?state=open", headers=books_).json()
    assert len(listed) == 6
    close_url = f"/api/v1/reconciliation/days/wechat/{DAY.isoformat()}/close"
    assert api.post(close_url, headers=books_).json()["code"] == "open_mismatches"
    for row in listed:
        done = api.post(
            f"/api/v1/reconciliation/mismatches/{row['id']}/resolve",
            json={"note": "agreed with WeChat Pay support"},
            headers=books_,
        )
        assert done.json()["state"] == "resolved"
    assert api.post(close_url, headers=books_).status_code == 200
    again = api.post(close_url, headers=books_)
    assert (again.status_code, again.json()["code"]) == (409, "books_closed")


def test_a_garbled_statement_is_a_422_naming_the_line(office, api):
    from tests.cloud.http_calls import bearer

    url = f"/api/v1/reconciliation/statements?channel=unionpay&format=generic&day={DAY}"
    raw = b"order_no,channel_txn,amount_fen,status,time\nA1,T1,12.5,SUCCESS,x\n"
    answer = api.post(url, content=raw, headers=bearer(api, "books"))
    assert answer.status_code == 422
    assert (answer.json()["code"], answer.json()["line"]) == ("bad_statement", 2)


def test_a_wechat_bill_download_is_unpacked_from_gzip():
    import gzip

    from cloud.services.reconciliation.download import unpack_wechat
    from cloud.services.reconciliation.statements import parse_wechat

    bill = wechat_bill([Row("payment", "T1", "A1", 8000)])
    assert parse_wechat(unpack_wechat(gzip.compress(bill)))[0].amount_fen == 8000


def test_the_alipay_detail_is_taken_from_the_bill_zip_not_its_summary():
    import io
    import zipfile

    from cloud.services.reconciliation.download import unpack_alipay

    class GbkName(zipfile.ZipInfo):  # as Alipay writes them: GBK bytes, no UTF-8 flag
        def _encodeFilenameFlags(self):  # zipfile's own hook
            return self.filename.encode("gbk"), self.flag_bits

    detail = WRITERS["alipay"]([Row("payment", "T1", "A1", 8000)])
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as bundle:
        for name, body in (("业务明细(汇总)", b"summary"), ("业务明细", detail)):
            bundle.writestr(GbkName(f"20881234_20261201_{name}.csv"), body)
    assert unpack_alipay(packed.getvalue()) == detail


def test_the_reconcile_commands_import_list_resolve_and_close_a_day(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from keys.clock import ENVIRONMENT_VARIABLE as CLOCK_AT
    from tests.conftest import TEST_AT

    tool = str(Path(sys.executable).with_name("scenic-cloud"))
    env = {**os.environ, CLOCK_AT: TEST_AT.isoformat(), "USER": "books"}
    env["SCENIC_DB_URL"] = f"sqlite:///{tmp_path / 'cloud.sqlite'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, "reconcile", *args], capture_output=True, text=True, env=env)

    statement = tmp_path / "unionpay.csv"
    statement.write_bytes(WRITERS["generic"]([Row("payment", "T9", "NOT-OURS", 500)]))
    day = ("--channel", "unionpay", "--day", DAY.isoformat())
    done = run("import", str(statement), *day, "--format", "generic")
    assert done.returncode == 0 and "missing_ours 1" in done.stdout, done.stderr
    again = run("import", str(statement), *day, "--format", "generic")
    assert (
        again.returncode == 2 and again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
    )
    (row,) = [json.loads(line) for line in run("list", "--json").stdout.splitlines()]
    assert run("close", *day).returncode == 2
    assert run("resolve", str(row["id"]), "--note", "a test payment by the bank").returncode == 0
    closed = run("close", *day)
    assert closed.returncode == 0 and "5.00 yuan" in closed.stdout
    assert run("close", *day).returncode == 2
