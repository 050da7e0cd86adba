"""Sites (景区) and their zones: what products, inventory and gates belong to."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from cloud.core.errors import Problem
from cloud.models import Site, Zone
from keys import topics

# A site code becomes a level of MQTT topics (scenic/{site}/...): keys/topics.py says what
# one may hold (no "/", "+", "#", whitespace or line break).
SITE_CODE = topics.NAME


def add_site(session: Session, code: str, name_zh: str, name_en: str, timezone: str) -> Site:
    if not topics.valid_name(code):
        raise Problem(
            422,
            "bad_site_code",
            "A site code is 1-32 letters, digits, - or _",
            "景区编码须为1-32位字母、数字、-或_",
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(422, "bad_timezone", f"Unknown time zone {timezone}", "时区无效") from None
    if session.get(Site, code) is not None:
        raise Problem(409, "duplicate_site", f"Site {code} exists", "景区已存在")
    site = Site(code=code, name_zh=name_zh, name_en=name_en, timezone=timezone)
    session.add(site)
    session.flush()
    return site


def add_zone(session: Session, site: str, zone: int, name_zh: str, name_en: str) -> Zone:
    if session.get(Site, site) is None:
        raise Problem(404, "not_found", "site not found", "景区不存在")
    if session.get(Zone, (site, zone)) is not None:
        raise Problem(409, "duplicate_zone", f"Zone {zone} exists", "园区已存在")
    row = Zone(site=site, zone=zone, name_zh=name_zh, name_en=name_en)
    session.add(row)
    return row
