"""scenic-keys: the operator's and tester's tool for keys, keyrings, tickets and QR codes.

A thin typer layer over keys/: each command parses, calls one library function and shapes the
output. Errors are one line on stderr (English / 中文), never a traceback.

Exit codes: 0 done; 1 the operation failed (e.g. refusing to overwrite a key, a file cannot be
written); 2 usage error or bad input (arguments, claims, key or keyring files, passphrase);
3 ``verify`` found at least one ticket that is not valid.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from keys import keystore, qr
from keys.claims import ClaimError
from keys.claims_json import from_json, to_json
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE, run_app
from keys.cli_exit import fail as fail_with
from keys.cli_options import passphrase_file_option
from keys.clock import from_environment
from keys.keyring import IssuerKey, Keyring, sign_keyring
from keys.keystore import KeyStoreError
from keys.revocation import sign_revocations
from keys.signed_document import ANY_SITE, DocumentError
from keys.ticket import issue_ticket, verify_ticket

EXIT_INVALID = 3
EXIT_CODES = (
    "Exit codes / 退出码: 0 done; 1 the operation failed (a file cannot be written, an "
    "unexpected error); 2 usage error or bad input (arguments, claims, key, keyring or "
    "passphrase); 3 verify: at least one ticket is not valid."
)

app = typer.Typer(
    help="Keys, keyrings, tickets and QR codes for scenic-area gates. 密钥、票码与二维码工具。",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

PassphraseFile = Annotated[Path | None, passphrase_file_option("the key's passphrase")]


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("scenic-keys", message, code, zh)


def _read_text_arg(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _load_key(path: Path, passphrase_file: Path | None, role: str) -> keystore.SigningKey:
    key = keystore.load(path, keystore.passphrase_from(passphrase_file))
    if key.role != role:
        fail(f"{path} is a {key.role} key; this needs a {role} key / 密钥角色不符")
    return key


def _load_keyring(keyring_file: Path, root_pub: Path, site: str | None) -> Keyring:
    root_key = keystore.load_public_pem(root_pub)
    try:
        raw = keyring_file.read_bytes()
    except OSError as exc:
        fail(f"cannot read keyring {keyring_file}: {exc.strerror} / 无法读取公钥环")
    try:
        return Keyring.load(raw, root_key, site)
    except DocumentError as exc:
        fail(f"{keyring_file} is not a usable keyring ({exc.code}): {exc.detail} / 公钥环无效")


@app.command()
def new(
    role: Annotated[str, typer.Option(help="root, issuer or node")],
    kid: Annotated[str, typer.Option(help="1-4 letters or digits, e.g. I1")],
    out: Annotated[Path, typer.Option(help="Key file to create (mode 0600, never overwritten)")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Make a new Ed25519 key, encrypted at rest. 生成新密钥（加密保存）。"""
    key = keystore.generate(role, kid)
    passphrase = keystore.passphrase_from(passphrase_file, creating=True)
    try:
        keystore.save(key, out, passphrase)
    except KeyStoreError as exc:
        fail(str(exc), EXIT_FAILED)
    typer.echo(f"{role} key {kid} -> {out}  fingerprint {keystore.fingerprint(key.public_key)}")


@app.command("export-public")
def export_public(
    key: Annotated[Path, typer.Option(help="Key file")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Print the public key as PEM; its fingerprint goes to stderr. 导出公钥。"""
    signing = keystore.load(key, keystore.passphrase_from(passphrase_file))
    typer.echo(keystore.public_pem(signing.public_key), nl=False)
    typer.echo(f"fingerprint {keystore.fingerprint(signing.public_key)}", err=True)


@app.command("keyring")
def make_keyring(
    root: Annotated[Path, typer.Option(help="Root key file (signs the keyring)")],
    issuer: Annotated[list[str], typer.Option(help="PUB.pem:KID, once per issuer key")],
    out: Annotated[Path, typer.Option(help="Keyring file to write")],
    retired: Annotated[list[str] | None, typer.Option(help="KID to mark retired")] = None,
    site: Annotated[str, typer.Option(help="Site the keyring is for; * for all")] = ANY_SITE,
    seq: Annotated[int | None, typer.Option(help="Sequence number; default: Unix time")] = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Sign a keyring of issuer public keys with the root key. 用根密钥签发公钥环。"""
    retired_kids = {keystore.kid_bytes(k) for k in retired or []}
    entries = []
    for spec in issuer:
        pem, sep, kid = spec.rpartition(":")
        if not sep or not pem:
            fail(f"--issuer {spec!r} must be PUB.pem:KID / 格式应为 公钥文件:密钥编号")
        kid_raw = keystore.kid_bytes(kid)
        entries.append(
            IssuerKey(kid_raw, keystore.load_public_pem(Path(pem)), kid_raw in retired_kids)
        )
    unknown = retired_kids - {e.kid for e in entries}
    if unknown:
        fail(
            f"--retired names kids not in the keyring: "
            f"{', '.join(sorted(k.decode() for k in unknown))} / 停用的密钥编号不在公钥环中"
        )
    root_key = _load_key(root, passphrase_file, "root")
    number = int(from_environment().now().timestamp()) if seq is None else seq
    _write(out, sign_keyring(root_key, entries, site=site, seq=number))
    kids = ", ".join(e.kid.decode() for e in entries)
    typer.echo(f"keyring seq {number} for site {site}: {kids} -> {out}")


@app.command()
def revocations(
    root: Annotated[Path, typer.Option(help="Root key file")],
    site: Annotated[str, typer.Option(help="Site the list is for")],
    seq: Annotated[int, typer.Option(help="Sequence number of this document")],
    out: Annotated[Path, typer.Option(help="File to write")],
    revoke: Annotated[
        list[str] | None, typer.Option(help="TICKETNO:LAST-DAY (ISO date), once per ticket")
    ] = None,
    delta: Annotated[
        bool, typer.Option(help="A delta on seq-1 instead of a full snapshot")
    ] = False,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Sign a revocation snapshot or delta. 签发退票/改签吊销列表。"""
    revoked: dict[bytes, date] = {}
    for spec in revoke or []:
        number, _, day = spec.partition(":")
        try:
            revoked[bytes.fromhex(number)] = date.fromisoformat(day)
        except ValueError:
            fail(f"--revoke {spec!r} must be TICKETNO:YYYY-MM-DD / 格式应为 票号:日期")
    root_key = _load_key(root, passphrase_file, "root")
    kind = "delta" if delta else "snapshot"
    _write(out, sign_revocations(root_key, site=site, seq=seq, kind=kind, revoked=revoked))
    typer.echo(f"revocations {kind} seq {seq}: {len(revoked)} ticket(s) -> {out}")


@app.command()
def issue(
    key: Annotated[Path, typer.Option(help="Issuer key file")],
    claims: Annotated[str, typer.Option(help="JSON claims file, or - for stdin")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Sign one ticket and print its text. 签发一张票，输出票码文本。"""
    try:
        source = sys.stdin.read() if claims == "-" else Path(claims).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read claims {claims}: {exc.strerror} / 无法读取票面信息")
    try:
        doc = json.loads(source)
    except ValueError as exc:
        fail(f"claims are not JSON: {exc} / 票面信息不是合法JSON")
    try:
        ticket_claims = from_json(doc)
    except ClaimError as exc:
        fail(f"bad claims ({exc.reason.value}): {exc.detail} / 票面信息有误")
    typer.echo(issue_ticket(_load_key(key, passphrase_file, "issuer"), ticket_claims))


@app.command()
def verify(
    text: Annotated[str, typer.Argument(help="Ticket text, or - to read one per line from stdin")],
    keyring: Annotated[Path, typer.Option(help="Root-signed keyring file")],
    root_pub: Annotated[Path, typer.Option(help="Pinned root public key (PEM)")],
    site: Annotated[str | None, typer.Option(help="Only accept a keyring for this site")] = None,
) -> None:
    """Check envelope, signature and keyring; one JSON line per ticket. 验证票码签名。

    Time, slot, zone and use rules are the gate's (gate-node verify), not checked here.
    """
    ring = _load_keyring(keyring, root_pub, site)
    lines = sys.stdin.read().splitlines() if text == "-" else [text]
    all_valid = True
    for line in lines:
        result = verify_ticket(line, ring)
        all_valid &= result.valid
        row = {
            "valid": result.valid,
            "reason": result.reason.value,
            "message": result.reason.text.en,
            "message_zh": result.reason.text.zh,
            "kid": result.kid.decode("ascii", "replace") if result.kid else None,
            "claims": to_json(result.claims) if result.claims else None,
        }
        typer.echo(json.dumps(row, ensure_ascii=False))
    if not all_valid:
        raise typer.Exit(EXIT_INVALID)


@app.command("qr")
def qr_code(
    text: Annotated[str, typer.Argument(help="Ticket text, or - for stdin")],
    out: Annotated[Path, typer.Option(help="FILE.png or FILE.svg")],
    scale: Annotated[int, typer.Option(min=1, max=40, help="Pixels per module")] = 8,
) -> None:
    """Render a ticket as a QR code and print its version and error level. 生成二维码。"""
    ticket_text = _read_text_arg(text).strip("\r\n")
    try:
        info = qr.render(ticket_text, out, scale=scale)
    except ValueError as exc:
        fail(str(exc), zh="无法生成二维码")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror} / 无法写入文件", EXIT_FAILED)
    typer.echo(
        f"version {info.version}, error correction {info.error}, "
        f"{info.modules}x{info.modules} modules, {info.mode} mode -> {out}"
    )


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror} / 无法写入文件", EXIT_FAILED)


def main() -> None:
    """Console-script entry: the one boundary where a library error becomes one line."""
    run_app(
        app,
        "scenic-keys",
        {KeyStoreError: (EXIT_USAGE, "密钥无法使用"), DocumentError: (EXIT_USAGE, "文件无效")},
    )


if __name__ == "__main__":
    main()
