"""scenic-cloud: the cloud's command line: migrate the database, serve the API (and expire
unpaid holds), run the MQTT workers, register gate nodes, keys, staff, partners, sites and
festival batches.

Never: hold a rule or write a table. Each command group is a module of thin typer commands
over cloud/services/ (the whole tree is wired below, in ``--help`` order); common.py holds
the options, exit codes and one-line failures they share. Errors are one line on stderr
(English / 中文, keys/cli_exit.py), never a traceback; the exit codes are ``EXIT_CODES``
(shown by --help).
"""

from __future__ import annotations

import logging

import typer

from cloud.cli import (
    backup,
    batches,
    calendar,
    channels,  # issue 17
    devices,
    holds,
    keys,
    offers,  # issue 17
    partners,
    passes,  # issue 17
    reconcile,  # issue 17
    serve,
    sites,
    staff,
    workers,
)
from cloud.cli.common import EXIT_CODES
from cloud.core.config import ConfigError
from keys.cli_exit import EXIT_USAGE, run_app
from keys.keystore import KeyStoreError

app = typer.Typer(
    help="Scenic-area ticket office cloud. 景区票务云端。",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(devices.app, name="device")
app.add_typer(keys.app, name="keys")
app.add_typer(staff.app, name="admin")
app.add_typer(holds.app, name="holds")
app.add_typer(batches.app, name="batch")
app.add_typer(reconcile.app, name="reconcile")
app.add_typer(channels.app, name="channel")
app.add_typer(offers.app, name="offer")
app.add_typer(passes.app, name="pass-rule")
app.command()(serve.migrate)
app.command()(workers.ingest)
app.command()(workers.downlink)
app.command()(serve.serve)
app.command("site")(sites.site_add)
app.command("issue-batch")(batches.issue_batch_command)
app.command("partner")(partners.partner_add)
app.add_typer(calendar.app, name="calendar")  # staff operations (issue 19)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    run_app(
        app,
        "scenic-cloud",
        {KeyStoreError: (EXIT_USAGE, "密钥无法使用"), ConfigError: (EXIT_USAGE, "配置有误")},
    )
