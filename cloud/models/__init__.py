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
from cloud.models.base import Base
from cloud.models.card_index import CardEntry
from cloud.models.catalog import CalendarDay, Inventory, Price, Product, Site, Zone
from cloud.models.dashboard import Alarm, StaffPreference
from cloud.models.devices import Device, DeviceKey, EnrolmentToken
from cloud.models.downlink import NodeLink, Revocation, SiteDocument
from cloud.models.faces import FaceEnrolment
from cloud.models.gate_events import GateEventRecord, ParkCount, RefusedEvent
from cloud.models.orders import HolderClaim, Order, OrderItem, Payment, Refund, Ticket

__all__ = [
    "Alarm",
    "ApiKey",
    "AuditEntry",
    "AuthSession",
    "Base",
    "CalendarDay",
    "CardEntry",
    "CashierShift",
    "Device",
    "DeviceKey",
    "EnrolmentToken",
    "FaceEnrolment",
    "GateEventRecord",
    "HolderClaim",
    "IdempotencyRecord",
    "Inventory",
    "LoginThrottle",
    "NodeLink",
    "Order",
    "OrderItem",
    "ParkCount",
    "Payment",
    "Price",
    "Product",
    "Refund",
    "RefusedEvent",
    "Revocation",
    "Site",
    "SiteDocument",
    "StaffPreference",
    "Ticket",
    "User",
    "Zone",
]
