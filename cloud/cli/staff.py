"""scenic-cloud admin: staff accounts: create, list, change role, disable and enable, reset a
second factor (services/staff.py, services/second_factor.py).

Never: take a password on the command line (it would sit in the shell's history and in
``ps``): it comes from ``$SCENIC_ADMIN_PASSWORD`` or a prompt.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Annotated, Any

import typer

from cloud.cli.common import DbOption, refused, settings_from, transaction, wall_clock
from cloud.core.errors import Problem
from cloud.models.accounts import ROLES
from cloud.services import second_factor, staff
from cloud.services.audit import audit

app = typer.Typer(help="Staff accounts. 员工账号。", no_args_is_help=True)


@app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="Login name")],
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))] = "manager",
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
        _audit(session, "create_user", username, {"role": role})
    typer.echo(f"{role} {username} created")


Username = Annotated[str, typer.Option("--username", help="Login name")]


@app.command("list")
def admin_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
    db: DbOption = None,
) -> None:
    """Every account with its role, whether it is active and has a second factor."""
    with transaction(settings_from(db)) as session:
        users = [
            {"username": u.username, "role": u.role, "active": u.active,
             "second_factor": second_factor.required(u)}
            for u in staff.list_users(session)
        ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(users, ensure_ascii=False))
        return
    for u in users:
        state = "active" if u["active"] else "disabled"
        totp = " totp" if u["second_factor"] else ""
        typer.echo(f"{u['username']:<24} {u['role']:<10} {state}{totp}")


@app.command("set-role")
def admin_set_role(
    username: Username,
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))],
    db: DbOption = None,
) -> None:
    """Give an account another role (its sessions end; the last manager keeps the role)."""
    _change(username, db, role=role)


@app.command("disable")
def admin_disable(username: Username, db: DbOption = None) -> None:
    """Disable an account: its sessions end and it cannot sign in."""
    _change(username, db, active=False)


@app.command("enable")
def admin_enable(username: Username, db: DbOption = None) -> None:
    """Enable a disabled account again."""
    _change(username, db, active=True)


@app.command("reset-second-factor")
def admin_reset_second_factor(username: Username, db: DbOption = None) -> None:
    """Clear an account's TOTP (a lost phone, no recovery code left); it enrols again."""
    with transaction(settings_from(db)) as session:
        second_factor.reset(session, staff.user_named(session, username))
        _audit(session, "reset_second_factor", username, None)
    typer.echo(f"{username}: second factor cleared")


def _change(username: str, db: str | None, **change: Any) -> None:
    with transaction(settings_from(db)) as session:
        user, ended = staff.change_user(session, username, **change)
        _audit(session, "change_user", username, {**change, "sessions_ended": ended})
        role, active = user.role, user.active
    typer.echo(f"{username}: {role}, {'active' if active else 'disabled'}, {ended} sessions ended")


def _audit(session: Any, action: str, username: str, detail: dict[str, Any] | None) -> None:
    audit(session, "cli", "cli", action, f"user:{username}", detail, at=wall_clock().now())
