"""gatectl: the installer's command line on a gate node (enrol, test, doctor, decommission).

Thin typer commands over provisioning's library. Errors are one line on stderr (English /
中文, keys/cli_exit.py), never a traceback. This file holds the app and registers the command
groups; each group lives in its own module (checks.py: ``gatectl test``; doctor.py:
``gatectl doctor``).
"""

from __future__ import annotations

import typer

from keys.cli_exit import run_app
from provisioning.checks import test_app
from provisioning.doctor import doctor

app = typer.Typer(
    help="Set up and check a gate node. 闸机节点安装与检查。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(test_app, name="test")
app.command()(doctor)


def main() -> None:
    run_app(app, "gatectl")


if __name__ == "__main__":
    main()
