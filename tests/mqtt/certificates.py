"""A certificate authority and broker/node certificates made on the spot (cryptography), for the
TLS tests: nothing is checked in, nothing outlives the test's folder."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import TEST_AT


@dataclass(frozen=True)
class Authority:
    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    pem: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _window(at: datetime) -> tuple[datetime, datetime]:
    # Mosquitto and OpenSSL check validity by the machine's clock, which tests do not set:
    # a wide window around the test instant holds on any machine date within a decade.
    return at - timedelta(days=3650), at + timedelta(days=3650)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def authority(folder: Path, name: str = "Scenic test CA") -> Authority:
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _window(TEST_AT)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pem = folder / f"{name.replace(' ', '-')}.crt"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(name, key, certificate, pem)


def issue(ca: Authority, folder: Path, common: str, *, server: bool) -> tuple[Path, Path]:
    """(certificate, key) PEM files for the broker (``server``: SAN 127.0.0.1 and localhost)
    or a node (client authentication, CN = node id)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _window(TEST_AT)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    certificate = builder.sign(ca.key, hashes.SHA256())
    cert_path, key_path = folder / f"{common}.crt", folder / f"{common}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path
