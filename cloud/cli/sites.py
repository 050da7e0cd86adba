"""scenic-cloud site: add a site (景区) (services/sites.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from cloud.cli.common import DbOption, settings_from, transaction
from cloud.services.sites import add_site


def site_add(
    code: Annotated[str, typer.Option(help="Site code, e.g. S1")],
    name_zh: Annotated[str, typer.Option(help="Chinese name")],
    name_en: Annotated[str, typer.Option(help="English name")],
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Asia/Shanghai",
    db: DbOption = None,
) -> None:
    """Add a site (景区) so products and gates can belong to it."""
    with transaction(settings_from(db)) as session:
        add_site(session, code, name_zh, name_en, timezone)
    typer.echo(f"site {code} ({name_zh} / {name_en}, {timezone}) added")
