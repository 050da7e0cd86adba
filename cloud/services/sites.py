"""Sites (景区) and their zones: what products, inventory and gates belong to."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Site, Zone
from keys import topics

# A site code becomes a level of MQTT topics (scenic/{site}/...): keys/topics.py says what
# one may hold (no "/", "+", "#", whitespace or line break).
SITE_CODE = topics.NAME


def add_site(session: Session, code: str, name_zh: str, name_en: str, timezone: str) -> Site:
    if not topics.valid_name(code):
        raise Problem(Code.BAD_SITE_CODE)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(Code.BAD_TIMEZONE, timezone=timezone) from None
    if session.get(Site, code) is not None:
        raise Problem(Code.DUPLICATE_SITE, site=code)
    site = Site(code=code, name_zh=name_zh, name_en=name_en, timezone=timezone)
    session.add(site)
    session.flush()
    return site


def add_zone(session: Session, site: str, zone: int, name_zh: str, name_en: str) -> Zone:
    if session.get(Site, site) is None:
        raise not_found(Thing.SITE)
    if session.get(Zone, (site, zone)) is not None:
        raise Problem(Code.DUPLICATE_ZONE, zone=zone)
    row = Zone(site=site, zone=zone, name_zh=name_zh, name_en=name_en)
    session.add(row)
    return row
