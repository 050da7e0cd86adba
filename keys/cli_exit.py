"""How every command line of the project fails: one line on stderr (English / 中文) and an
exit code, never a traceback.

scenic-keys, gate-node and scenic-cloud all depend on keys/, so the rule lives here once:
``fail`` is what a command calls when it knows what went wrong; ``run_app`` is the one
boundary (the console-script entry) where an exception nobody turned into a reason still
becomes one line (with ``SCENIC_DEBUG=1`` the traceback is shown instead, for a bug report).

Never: print more than one line for one failure, or exit 0 after one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

import typer

DEBUG_ENV = "SCENIC_DEBUG"
EXIT_FAILED, EXIT_USAGE = 1, 2


def one_line(text: str) -> str:
    """Whatever a library put in a message (newlines, indentation), as one line."""
    return " ".join(str(text).split())


def bilingual(message: str, zh: str) -> str:
    """``message / zh``, unless the message (often a library's) already carries Chinese."""
    has_chinese = any("\u4e00" <= char <= "\u9fff" for char in message)
    return message if has_chinese or not zh else f"{message} / {zh}"


def fail(tool: str, message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    """Print ``tool: message`` as one line on stderr and exit with ``code``; ``zh`` is the
    Chinese half for a message that has none."""
    typer.echo(f"{tool}: {one_line(bilingual(message, zh))}", err=True)
    raise typer.Exit(code)


def run_app(
    app: Callable[..., object],
    tool: str,
    known: dict[type[Exception], tuple[int, str]] | None = None,
) -> None:
    """Run a typer app and exit. A usage error is one line and EXIT_USAGE (click would print
    a usage box); an exception that escaped a command is one line: those in ``known`` with
    their code and Chinese half (their message says what to do), anything else with EXIT_FAILED and
    its type, since it is a bug to report."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        if not exc.format_message():  # no command given: click printed the help already
            sys.exit(exc.exit_code)
        context = getattr(exc, "ctx", None)
        hint = f" (see {context.command_path} --help)" if context is not None else ""
        label = " / 用法有误" if exc.exit_code == EXIT_USAGE else ""
        typer.echo(f"{tool}: {one_line(exc.format_message())}{hint}{label}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo(f"{tool}: aborted / 已中止", err=True)
        sys.exit(EXIT_FAILED)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        for family, (known_code, zh) in (known or {}).items():
            if isinstance(exc, family):
                typer.echo(f"{tool}: {one_line(bilingual(str(exc), zh))}", err=True)
                sys.exit(known_code)
        typer.echo(
            f"{tool}: unexpected error {type(exc).__name__}: {one_line(str(exc))} "
            f"(set {DEBUG_ENV}=1 for the traceback) / 意外错误，请报告",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)
