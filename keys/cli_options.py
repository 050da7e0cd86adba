"""The command-line options every tool of the project spells the same way.

scenic-cloud, gate-node and gatectl all read a key's passphrase the same way
(``keystore.passphrase_from``), so the option that names its file is defined here once, and
every command that takes a key's passphrase uses it: its help names the environment variables
an installer can use instead (tests/test_passphrase_option.py walks every command to check).

Never: read the option's value, or hold a command (that is each tool's own CLI).
"""

from __future__ import annotations

from typing import Any

import typer

from keys import keystore


def passphrase_file_option(holding: str) -> Any:
    """``--passphrase-file``: a file (mode 0600) holding ``holding`` (e.g. "the passphrase for
    node.key"); else the environment, as ``keystore.passphrase_from`` reads it."""
    return typer.Option(
        help=f"File (mode 0600) holding {holding}; else "
        f"${keystore.PASSPHRASE_FILE_ENV} or ${keystore.PASSPHRASE_ENV}"
    )
