"""The sandbox platform's checkout page: a buyer "pays" an order without money.

It yields real signed tickets, so it exists only when the operator turns the sandbox on
(``SCENIC_SANDBOX=1`` or ``scenic-cloud serve --sandbox``; refused when
``SCENIC_ENV=production``, cloud/core/config.py): otherwise this router is not mounted and
the sandbox channel is not among the providers (api/app.py, api/context.py).

The page makes the platform's signed notification and settles it through the same path a real
channel's callback takes, except that the buyer is here to be told: an order that is no longer
payable is refused (409 ``already_paid``) rather than paid and refunded.
"""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api.deps import Context, Source
from cloud.api.order_views import BuyersOrder
from cloud.api.schemas import SandboxPaid
from cloud.services.payments.sandbox import SandboxProvider
from cloud.services.payments.settle import settle

router = APIRouter(prefix="/api/v1", tags=["sandbox"])


@router.post("/sandbox/pay/{order_no}", response_model=SandboxPaid)
def sandbox_pay(order: BuyersOrder, ctx: Context, where: Source) -> SandboxPaid:
    """The sandbox platform's checkout: the buyer pays; the platform notifies (signed)."""
    sandbox = ctx.providers["sandbox"]
    assert isinstance(sandbox, SandboxProvider)
    headers, body = sandbox.simulate_payment(order.order_no, order.total_fen)
    note = sandbox.verify_notification(headers, body)
    result = settle(ctx.sessions, note, ctx.issuer, ctx.clock.now(), where, refuse_unpayable=True)
    return SandboxPaid(order_no=result.order_no, result=result.status, tickets=result.tickets)
