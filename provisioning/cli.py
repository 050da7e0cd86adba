"""gatectl: the installer's command line. Thin typer commands over provisioning's modules.

Commands live in modules of their own and are registered here: ``init`` (a standalone node,
provisioning/node_init.py), ``enrol`` (from the cloud, provisioning/enrol.py), ``decommission``
(provisioning/decommission.py), ``test wiring|camera|reader`` (provisioning/checks.py) and
``doctor`` (provisioning/doctor.py).

Every failure is one line on stderr (English / 中文) and an exit code from EXIT_CODES, never a
traceback (keys/cli_exit.py); ``--json`` prints one JSON object for scripts instead of text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from gate_node.config import KINDS
from gate_node.readers.frames import FrameSourceError, check_spec
from gate_node.state import NodeStateError
from keys import keystore
from keys.cli_exit import EXIT_USAGE, run_app
from keys.cli_exit import fail as fail_with
from keys.cli_options import passphrase_file_option
from keys.keystore import KeyStoreError
from provisioning import decommission, enrol
from provisioning.checks import test_app
from provisioning.doctor import doctor
from provisioning.errors import EXIT_CODES, ProvisioningError
from provisioning.node_init import initialise, read_salt_file

app = typer.Typer(
    help="Set up, check and retire a scenic-area gate node. 闸机安装与维护工具。",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """A group even while it holds one command: `gatectl init ...` always names it."""


app.command("enrol")(enrol.command)
app.command("decommission")(decommission.command)
app.add_typer(test_app, name="test")
app.command("doctor")(doctor)


StateDir = Annotated[Path, typer.Option("--state-dir", help="The node's state directory")]
PassphraseFile = Annotated[Path | None, passphrase_file_option("the passphrase for node.key")]


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("gatectl", message, code, zh)


@app.command()
def init(
    state_dir: StateDir,
    site: Annotated[str, typer.Option(help="Site id")],
    node: Annotated[str, typer.Option(help="This node's id")],
    kind: Annotated[str, typer.Option(help=" | ".join(KINDS))],
    zone: Annotated[int, typer.Option(help="Zone id this lane admits to")],
    root_pub: Annotated[Path, typer.Option(help="Root public key (PEM) to pin")],
    keyring: Annotated[Path, typer.Option(help="Root-signed keyring file")],
    revocations: Annotated[Path | None, typer.Option(help="Root-signed revocation list")] = None,
    direction: Annotated[str, typer.Option(help="in or out")] = "in",
    timezone: Annotated[str, typer.Option(help="Site time zone")] = "Asia/Shanghai",
    camera: Annotated[str | None, typer.Option(help="picamera, v4l2:DEV, dir:PATH ...")] = None,
    real_name_check: Annotated[str, typer.Option(help="none, id_card or face")] = "none",
    holder_salt_file: Annotated[
        Path | None, typer.Option(help="The site's holder salt (hex, mode 0600)")
    ] = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Create a standalone node from files you brought (no cloud). 初始化独立节点。"""
    if camera is not None:
        try:
            check_spec(camera)
        except FrameSourceError as exc:
            fail(str(exc))
    config = {
        "site": site,
        "node": node,
        "kind": kind,
        "zone": zone,
        "direction": direction,
        "timezone": timezone,
        "camera": camera,
        "real_name_check": real_name_check,
    }
    try:
        passphrase = keystore.passphrase_from(passphrase_file, creating=True)
        salt = read_salt_file(holder_salt_file) if holder_salt_file else None
        state = initialise(state_dir, config, root_pub, keyring, revocations, passphrase, salt)
    except (NodeStateError, KeyStoreError) as exc:
        fail(str(exc), zh="无法初始化节点")
    typer.echo(
        f"node {node} ({kind}, zone {zone}, site {site}) ready in {state_dir}; "
        f"issuer keys {', '.join(state.keyring.kids)}"
    )


def main() -> None:
    run_app(
        app,
        "gatectl",
        {
            ProvisioningError: (EXIT_USAGE, "安装失败"),
            NodeStateError: (EXIT_USAGE, "节点状态有误"),
            KeyStoreError: (EXIT_USAGE, "密钥无法使用"),
        },
    )


if __name__ == "__main__":
    main()
