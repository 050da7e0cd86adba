"""scenic-cloud admin: staff accounts (services/staff.py).

Never: take a password on the command line (it would sit in the shell's history and in
``ps``): it comes from ``$SCENIC_ADMIN_PASSWORD`` or a prompt.
"""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from cloud.cli.common import DbOption, refused, settings_from, transaction
from cloud.core.errors import Problem
from cloud.services import staff

app = typer.Typer(help="Staff accounts. 员工账号。", no_args_is_help=True)


@app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="Login name")],
    role: Annotated[str, typer.Option(help="manager | finance | cashier")] = "manager",
    db: DbOption = None,
) -> None:
    """Create a staff account; the password comes from $SCENIC_ADMIN_PASSWORD or a prompt."""
    try:
        staff.check_role(role)  # before the prompt: no password typed for nothing
        password = os.environ.get("SCENIC_ADMIN_PASSWORD") or getpass.getpass("password / 密码: ")
        staff.check_new_password(password)
    except Problem as exc:
        refused(exc)
    with transaction(settings_from(db)) as session:
        staff.create_user(session, username, password, role)
    typer.echo(f"{role} {username} created")
