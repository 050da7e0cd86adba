"""What a member of staff chose for themselves: the dashboard's language, kept per user."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cloud.models import StaffPreference

LANGS = ("zh-CN", "en")  # the first is the default


def language(session: Session, user_id: int) -> str:
    row = session.get(StaffPreference, user_id)
    return row.lang if row is not None and row.lang in LANGS else LANGS[0]


def set_language(session: Session, user_id: int, lang: str) -> str:
    """Remember ``lang`` (zh-CN or en; anything else is zh-CN) for the user; returns it."""
    chosen = lang if lang in LANGS else LANGS[0]
    row = session.get(StaffPreference, user_id)
    if row is None:
        session.add(StaffPreference(user_id=user_id, lang=chosen))
    else:
        row.lang = chosen
    return chosen
