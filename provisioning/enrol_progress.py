"""gatectl enrol's step lines: what it is doing while it waits, so an installer at a Pi can
tell a slow step (making a key, a cloud round trip over a weak link) from a hung one.

Never: print in ``--json`` mode (a script reads one object from stdout) or to stderr (there a
failure is the only line: the CLI rule). Like every gatectl message, a line carries both
languages, English then Chinese: gatectl has no language setting, since the installer's
terminal and the person reading a log later may not share one.

A line reads ``[2/4] asking the cloud at https://… / 正在连接云端 https://…``; the steps are
those of ``enrol.enrol_node`` (its module docstring), in order. The fingerprint question that
follows step 2, and the closing "enrolled …" line, are the command's own.
"""

from __future__ import annotations

from collections.abc import Callable

STEPS: dict[str, tuple[str, str]] = {
    "identity_new": ("making this device's identity key", "正在生成本机身份密钥"),
    "identity_again": ("using the identity key made on the last try", "沿用上次生成的身份密钥"),
    "cloud": ("asking the cloud at {cloud}", "正在连接云端 {cloud}"),
    "verify": ("checking what the cloud sent against the root key", "正在用根密钥校验下发内容"),
    "build": ("writing the node's keys and signed documents", "正在写入节点密钥与签名文件"),
}
ORDER = ("identity", "cloud", "verify", "build")  # identity_new or identity_again


def line(step: str, **values: str) -> str:
    """The text of ``step`` (a key of ``STEPS``) with its number, e.g. ``[1/4] …``."""
    en, zh = STEPS[step]
    number = ORDER.index(step.split("_")[0]) + 1
    return f"[{number}/{len(ORDER)}] {en.format(**values)} / {zh.format(**values)}"


def printer(write: Callable[[str], None]) -> Callable[..., None]:
    """A ``step(name, **values)`` callback for ``enrol_node`` that writes each line."""

    def step(name: str, **values: str) -> None:
        write(line(name, **values))

    return step


def quiet(name: str, **values: str) -> None:
    """The callback for ``--json`` and for callers that want no lines."""
