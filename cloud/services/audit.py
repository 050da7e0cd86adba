"""The audit log: every finance and personal-data access and every change of money, with who
did it and from where (要求: 记录来源地址). Written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.models import AuditEntry


def audit(
    session: Session,
    actor: str,
    source: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime,
) -> None:
    """One entry; ``at`` is the caller's now (its request's or service's clock)."""
    session.add(
        AuditEntry(
            at=at,
            actor=actor[:64],
            source=source[:64],
            action=action,
            target=target[:128],
            detail=detail,
        )
    )
