"""scenic-cloud partner: an API key for a partner system (services/partners.py).

Never: print the key twice or store it; the service keeps only its hash.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cloud.cli.common import DbOption, settings_from, transaction
from cloud.services.partners import create_api_key


def partner_add(
    name: Annotated[str, typer.Option(help="Partner system, e.g. parking, hotel-pms")],
    scope: Annotated[list[str] | None, typer.Option(help="What it may do: verify")] = None,
    db: DbOption = None,
) -> None:
    """Make an API key for a partner system; shown once, stored hashed. 合作方接口密钥。"""
    with transaction(settings_from(db)) as session:
        made = create_api_key(session, name, scope or ["verify"])
    typer.echo(f"API key for {name} ({', '.join(made.scopes)}), shown once / 仅显示一次:")
    typer.echo(made.key)
