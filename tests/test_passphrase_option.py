"""Every command of every tool that takes a key's passphrase file says, in its help, that the
environment can name it instead (keys/cli_options.py defines the option once)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cloud.cli import app as cloud_app
from gate_node.cli import app as node_app
from keys.cli import app as keys_app
from provisioning.cli import app as gatectl_app

TOOLS = {"scenic-keys": keys_app, "gate-node": node_app, "scenic-cloud": cloud_app}
TOOLS["gatectl"] = gatectl_app


def commands(group, path: tuple[str, ...] = ()):
    """Every leaf command under ``group`` with its words (typer carries its own click, so this
    goes by shape, not class)."""
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from commands(command, (*path, name))
    else:
        yield path, group


def passphrase_options() -> list[tuple[str, object]]:
    found = []
    for tool, app in TOOLS.items():
        for path, command in commands(typer.main.get_command(app)):
            for param in command.params:
                if "--passphrase-file" in getattr(param, "opts", ()):
                    found.append((" ".join((tool, *path)), param))
    return found


def test_the_passphrase_option_is_found_on_the_commands_that_take_a_key():
    named = {name for name, _ in passphrase_options()}
    assert {"gatectl enrol", "gatectl decommission", "scenic-keys new"} <= named
    assert {"scenic-cloud serve", "gate-node run"} <= named


@pytest.mark.parametrize("name,option", passphrase_options(), ids=lambda v: str(v))
def test_every_passphrase_option_names_the_passphrase_file_environment_variable(name, option):
    assert "$SCENIC_KEY_PASSPHRASE_FILE" in (option.help or ""), name
    assert "$SCENIC_KEY_PASSPHRASE" in (option.help or ""), name


def test_gatectl_enrol_help_tells_the_installer_about_the_environment_variable():
    shown = CliRunner().invoke(gatectl_app, ["enrol", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "SCENIC_KEY_PASSPHRASE_FILE" in shown.output
