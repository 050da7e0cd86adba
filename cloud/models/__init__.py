"""SQLAlchemy 2 tables of the cloud. Import every model module here so Alembic sees them."""

from cloud.models.base import Base
from cloud.models.devices import Device
from cloud.models.downlink import NodeLink, Revocation, SiteDocument
from cloud.models.gate_events import GateEventRecord, ParkCount, RefusedEvent

__all__ = [
    "Base",
    "Device",
    "GateEventRecord",
    "NodeLink",
    "ParkCount",
    "RefusedEvent",
    "Revocation",
    "SiteDocument",
]
