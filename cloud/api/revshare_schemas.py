"""What the routes of package revenue shares send back (routes/revshare.py): partner
attractions, a package's components, a partner's daily statement."""

from __future__ import annotations

from pydantic import BaseModel


class AttractionOut(BaseModel):
    code: str
    name: str
    site: str
    settlement_account: str


class ShareOut(BaseModel):
    """One component: exactly one of ``share_fen`` (per person) and ``share_bp``."""

    partner: str
    share_fen: int | None
    share_bp: int | None


class ComponentsOut(BaseModel):
    product_id: int
    components: list[ShareOut]


class PartnerStatementOut(BaseModel):
    """A partner attraction's daily statement (合作景点日结单); ``confirmed_by`` once finance
    confirmed it."""

    partner: str
    day: str  # ISO date
    sales_fen: int
    refunds_fen: int
    owed_fen: int
    tickets: int
    refunded: int
    confirmed_by: str | None
