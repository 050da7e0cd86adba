"""Partner systems (parking, hotel PMS, POS, OTA): their API keys and what each may do.

Never: store a key (only its SHA-256, ``core/security.token_hash``), or show it twice: the key
is in the ``NewApiKey`` returned once, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.core.security import new_token, token_hash
from cloud.models import ApiKey

# What a partner key may do: verify tickets (routes/verify.py); channel: sell, refund and
# register codes as its distributor/OTA account (routes/channel.py, services/channels.py).
SCOPES = ("verify", "channel")


@dataclass(frozen=True)
class NewApiKey:
    id: int
    partner: str
    scopes: list[str]
    key: str  # shown to the operator once


def create_api_key(
    session: Session, partner: str, scopes: Iterable[str] = ("verify",)
) -> NewApiKey:
    """A new API key for ``partner`` with ``scopes`` (default: verify); 422 ``unknown_scope``
    for a scope outside ``SCOPES``."""
    wanted = sorted(set(scopes))
    unknown = set(wanted) - set(SCOPES)
    if unknown:
        raise Problem(
            Code.UNKNOWN_SCOPE, unknown=", ".join(sorted(unknown)), known=", ".join(SCOPES)
        )
    key = new_token()
    row = ApiKey(partner=partner, key_hash=token_hash(key), scopes=wanted)
    session.add(row)
    session.flush()
    return NewApiKey(row.id, partner, wanted, key)
