"""SQLAlchemy 2 tables of the cloud. Import every model module here so Alembic sees them."""

from cloud.models.accounts import (
    ApiKey,
    AuditEntry,
    AuthSession,
    CashierShift,
    IdempotencyRecord,
    LoginThrottle,
    User,
)
from cloud.models.annual_passes import AnnualPass, PassRenewal, PassRule
from cloud.models.base import Base
from cloud.models.card_index import CardEntry
from cloud.models.catalog import CalendarDay, Inventory, Price, Product, Site, Zone
from cloud.models.channels import (
    ChannelAccount,
    ChannelCode,
    ChannelMovement,
    ChannelPrice,
    ChannelStatement,
)
from cloud.models.dashboard import Alarm, StaffPreference
from cloud.models.devices import Device, DeviceKey, EnrolmentToken
from cloud.models.downlink import NodeLink, Revocation, SiteDocument
from cloud.models.faces import FaceEnrolment
from cloud.models.gate_events import GateEventBatch, GateEventRecord, ParkCount, RefusedEvent
from cloud.models.members import (
    Coupon,
    FlashSale,
    Member,
    MemberCode,
    MemberSession,
    MemberTake,
    PointsMovement,
)
from cloud.models.orders import HolderClaim, Order, OrderItem, Payment, Refund, Ticket
from cloud.models.reconciliation import Mismatch, ReconDay, Statement, StatementLine
from cloud.models.revshare import PackageComponent, PartnerAttraction, PartnerStatement, ShareLine

__all__ = [
    "Alarm",
    "AnnualPass",
    "ApiKey",
    "AuditEntry",
    "AuthSession",
    "Base",
    "CalendarDay",
    "CardEntry",
    "CashierShift",
    "ChannelAccount",
    "ChannelCode",
    "ChannelMovement",
    "ChannelPrice",
    "ChannelStatement",
    "Coupon",
    "Device",
    "DeviceKey",
    "EnrolmentToken",
    "FaceEnrolment",
    "FlashSale",
    "GateEventBatch",
    "GateEventRecord",
    "HolderClaim",
    "IdempotencyRecord",
    "Inventory",
    "LoginThrottle",
    "Member",
    "MemberCode",
    "MemberSession",
    "MemberTake",
    "Mismatch",
    "NodeLink",
    "Order",
    "OrderItem",
    "PackageComponent",
    "ParkCount",
    "PartnerAttraction",
    "PartnerStatement",
    "PassRenewal",
    "PassRule",
    "Payment",
    "PointsMovement",
    "Price",
    "Product",
    "ReconDay",
    "Refund",
    "RefusedEvent",
    "Revocation",
    "ShareLine",
    "Site",
    "SiteDocument",
    "StaffPreference",
    "Statement",
    "StatementLine",
    "Ticket",
    "User",
    "Zone",
]
