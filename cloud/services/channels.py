"""Distributors and OTAs (分销 / OTA): accounts, terms, balance, and the orders they make.

A channel account is a partner API key (services/partners.py, scope ``channel``) bound to one
site, with a commission rate, per-product terms (a net price per person or a commission rate,
``ChannelPrice``) and money held with us: ``balance_fen`` (prepaid, topped up by finance) may
go negative down to ``-credit_limit_fen`` (credit), never further.

A sale (``sell``) is one transaction: the order is created like any other
(services/orders.create_order, channel ``ota`` or ``distributor``) at list price, so reports
and refunds read the same; the channel's net (list price less its commission) is debited by
one conditional UPDATE (``balance_fen - net >= -credit_limit_fen``), so concurrent sales can
never overdraw it; the order is then paid through the ordinary settlement
(services/payments/settle.py, provider ``channel``), which issues our signed codes. A refund
(``refund``) goes through services/refunds.py (the product's rules, revocation at the gates)
and credits the channel its share of the refunded money at once. Every balance change is a
``ChannelMovement``: the settlement statements are sums of them
(services/channel_settlement.py).

Never: trust the API key's account for another site's products, or let a key act on another
channel's orders (404, as if they did not exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import (
    ApiKey,
    ChannelAccount,
    ChannelMovement,
    ChannelPrice,
    Order,
    OrderItem,
    Refund,
    Ticket,
)
from cloud.models.channels import ACCOUNT_KINDS
from cloud.services import ota_codes
from cloud.services.audit import audit
from cloud.services.issuing import Issuer
from cloud.services.orders import LineRequest, create_order
from cloud.services.partners import NewApiKey, create_api_key
from cloud.services.payments.provider import Intent, Notification
from cloud.services.payments.settle import apply_payment
from cloud.services.personal_data import PersonalData
from cloud.services.refunds import Outcome, refund_tickets
from keys.cose import Signer

PROVIDER = "channel"  # the payments of channel orders: paid from the channel's balance


class BalanceChannel:
    """The ``channel`` payment provider for refunds.py: its refunds are credited to the
    channel's balance in the refund's own transaction (``refund``), so nothing is sent."""

    name = PROVIDER

    def create_intent(self, order_no: str, amount_fen: int, description: str) -> Intent:
        raise Problem(Code.CHANNEL_UNAVAILABLE, channel=PROVIDER)

    def verify_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        raise Problem(Code.CHANNEL_UNAVAILABLE, channel=PROVIDER)

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str:
        return refund_no


@dataclass(frozen=True)
class Sale:
    order_no: str
    gross_fen: int
    commission_fen: int
    net_fen: int
    balance_fen: int
    tickets: list[dict[str, Any]]  # ticket_no, text, and the OTA code it stands for if any


def create_account(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    site: str,
    commission_percent: int = 0,
    credit_limit_fen: int = 0,
) -> tuple[ChannelAccount, NewApiKey]:
    """A new channel account and its API key (shown once)."""
    if kind not in ACCOUNT_KINDS:
        raise Problem(Code.BAD_CHANNEL, channels=", ".join(ACCOUNT_KINDS))
    _check_percent(commission_percent)
    if credit_limit_fen < 0:
        raise Problem(Code.BAD_AMOUNT, field="credit_limit_fen", allowed=">=0")
    if session.scalar(select(ChannelAccount.id).where(ChannelAccount.code == code)):
        raise Problem(Code.DUPLICATE_CHANNEL, account=code)
    key = create_api_key(session, f"{kind}:{code}", ["channel"])
    account = ChannelAccount(
        code=code,
        name=name,
        kind=kind,
        site=site,
        api_key_id=key.id,
        commission_percent=commission_percent,
        credit_limit_fen=credit_limit_fen,
        balance_fen=0,
        active=True,
    )
    session.add(account)
    session.flush()
    return account, key


def set_terms(
    session: Session,
    account_code: str,
    product_id: int,
    *,
    net_fen: int | None = None,
    commission_percent: int | None = None,
) -> None:
    """The channel's own terms for a product: a net price per person, or a commission rate."""
    account = by_code(session, account_code)
    if (net_fen is None) == (commission_percent is None):
        raise Problem(Code.BAD_TERMS)
    if commission_percent is not None:
        _check_percent(commission_percent)
    if net_fen is not None and net_fen < 0:
        raise Problem(Code.BAD_AMOUNT, field="net_fen", allowed=">=0")
    terms = session.get(ChannelPrice, (account.id, product_id))
    if terms is None:
        session.add(ChannelPrice(account_id=account.id, product_id=product_id))
        session.flush()
        terms = session.get(ChannelPrice, (account.id, product_id))
        assert terms is not None
    terms.net_fen = net_fen
    terms.commission_percent = commission_percent


def top_up(
    session: Session, account_code: str, amount_fen: int, *, actor: str, source: str, now: datetime
) -> int:
    """Add prepaid money received from the channel; the balance after."""
    if amount_fen <= 0:
        raise Problem(Code.BAD_AMOUNT, field="amount_fen", allowed=">=1")
    account = by_code(session, account_code)
    balance = _move_balance(session, account, amount_fen)
    session.add(
        ChannelMovement(
            account_id=account.id,
            at=now,
            kind="topup",
            gross_fen=0,
            commission_fen=0,
            net_fen=amount_fen,
            balance_after_fen=balance,
            actor=actor[:64],
        )
    )
    audit(session, actor, source, "channel_topup", account.code, {"amount_fen": amount_fen}, at=now)
    return balance


def by_code(session: Session, code: str) -> ChannelAccount:
    account = session.scalar(select(ChannelAccount).where(ChannelAccount.code == code))
    if account is None:
        raise not_found(Thing.CHANNEL_ACCOUNT, account=code)
    return account


def for_key(session: Session, key: ApiKey) -> ChannelAccount:
    """The active channel account of a partner key with scope ``channel``, or 403."""
    account = session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.api_key_id == key.id, ChannelAccount.active.is_(True)
        )
    )
    if "channel" not in key.scopes or account is None:
        raise Problem(Code.FORBIDDEN, needs="channel")
    return account


def sell(
    session: Session,
    account: ChannelAccount,
    lines: list[LineRequest],
    *,
    issuer: Issuer,
    pd: PersonalData,
    now: datetime,
    ota_codes_in: list[str] | None = None,
    idempotency_key: str | None = None,
) -> Sale:
    """Sell ``lines`` through ``account``: debit its net, pay the order, issue our codes.
    With ``ota_codes_in`` (one per ticket) each ticket is bound to one of the OTA's own codes
    (services/ota_codes.py); the caller publishes the site's new card index."""
    order = create_order(
        session,
        site=account.site,
        lines=lines,
        channel=account.kind,
        contact=None,
        pd=pd,
        holder_salt=issuer.holder_salt,
        now=now,
        idempotency_key=idempotency_key,
    )
    items = list(session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)))
    if ota_codes_in is not None:
        ota_codes.bind(session, account, items, ota_codes_in, issuer.holder_salt)
    commission = sum(_commission(session, account, item) for item in items)
    net = order.total_fen - commission
    balance = _move_balance(session, account, -net)
    note = Notification(
        PROVIDER,
        order.order_no,
        f"{account.code}:{order.order_no}",
        order.total_fen,
        True,
        {"account": account.code},
    )
    session.add(  # before the payment: package shares are of this net (revenue_shares.py)
        ChannelMovement(
            account_id=account.id,
            at=now,
            kind="sale",
            order_id=order.id,
            gross_fen=order.total_fen,
            commission_fen=commission,
            net_fen=-net,
            balance_after_fen=balance,
            actor=account.code,
        )
    )
    session.flush()
    apply_payment(session, note, issuer, now, source=account.code, refuse_unpayable=True)
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id))
    )
    bound = ota_codes.record(session, account, tickets, ota_codes_in, issuer.holder_salt, now)
    return Sale(
        order.order_no,
        order.total_fen,
        commission,
        net,
        balance,
        [
            {"ticket_no": t.ticket_id.hex().upper(), "text": t.text, "ota_code": bound.get(t.id)}
            for t in tickets
        ],
    )


def refund(
    session: Session,
    account: ChannelAccount,
    order_no: str,
    ticket_numbers: list[str] | None,
    *,
    root: Signer,
    source: str,
    now: datetime,
) -> tuple[Outcome, int]:
    """Refund tickets of one of the channel's orders by the product's rules; the channel is
    credited its share of the refunded money. The outcome (revocation to publish) and the
    balance after."""
    sale = session.scalar(
        select(ChannelMovement)
        .join(Order, Order.id == ChannelMovement.order_id)
        .where(
            Order.order_no == order_no,
            ChannelMovement.account_id == account.id,
            ChannelMovement.kind == "sale",
        )
    )
    if sale is None:
        raise not_found(Thing.ORDER)
    outcome = refund_tickets(
        session,
        order_no=order_no,
        ticket_numbers=ticket_numbers,
        providers={PROVIDER: BalanceChannel()},
        root=root,
        actor=account.code,
        source=source,
        now=now,
    )
    assert outcome.refund_id is not None
    credit = outcome.refund_fen * -sale.net_fen // sale.gross_fen if sale.gross_fen else 0
    balance = _move_balance(session, account, credit)
    paid = session.execute(
        update(Refund)
        .where(Refund.id == outcome.refund_id, Refund.status == "pending")
        .values(status="succeeded", provider_refund=f"balance:{account.code}")
        .execution_options(synchronize_session=False)
    )
    if paid.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"refund {outcome.refund_id} changed under its order's lock")
    session.add(
        ChannelMovement(
            account_id=account.id,
            at=now,
            kind="refund",
            order_id=sale.order_id,
            refund_id=outcome.refund_id,
            gross_fen=-outcome.refund_fen,
            commission_fen=-(outcome.refund_fen - credit),
            net_fen=credit,
            balance_after_fen=balance,
            actor=account.code,
        )
    )
    return outcome, balance


def _commission(session: Session, account: ChannelAccount, item: OrderItem) -> int:
    gross = item.unit_fen * item.quantity
    terms = session.get(ChannelPrice, (account.id, item.product_id))
    if terms is not None and terms.net_fen is not None:
        return gross - terms.net_fen * item.quantity
    percent = (
        terms.commission_percent
        if terms is not None and terms.commission_percent is not None
        else account.commission_percent
    )
    return gross * percent // 100


def _move_balance(session: Session, account: ChannelAccount, change_fen: int) -> int:
    """Add ``change_fen`` (negative: a debit) unless the balance would fall below the credit
    limit; one conditional UPDATE, so concurrent sales cannot overdraw. The balance after."""
    moved = session.execute(
        update(ChannelAccount)
        .where(
            ChannelAccount.id == account.id,
            ChannelAccount.active.is_(True),
            ChannelAccount.balance_fen + change_fen >= -ChannelAccount.credit_limit_fen,
        )
        .values(balance_fen=ChannelAccount.balance_fen + change_fen)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.CREDIT_EXCEEDED, needed_fen=-change_fen)
    balance = session.scalar(
        select(ChannelAccount.balance_fen).where(ChannelAccount.id == account.id)
    )
    assert balance is not None
    return balance


def _check_percent(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise Problem(Code.BAD_TERMS)
