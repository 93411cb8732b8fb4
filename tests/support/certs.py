"""Test PKI: a self-signed CA with server and client certificates, made with `cryptography`.

Files use Docker's names: ``ca.crt`` (CA certificate), ``server.crt``/``server.key`` and
``client.cert``/``client.key``. Keys are ECDSA P-256 (fast to generate; Go, OpenSSL and
skopeo all accept them) unless RSA is asked for.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_COMMON_NAME = "dregsy-test-ca"
SERVER_SANS: tuple[x509.GeneralName, ...] = (
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
    x509.DNSName("localhost"),
)
_VALIDITY = datetime.timedelta(days=3650)


def new_private_key(key_type: KeyType = "ec") -> PrivateKey:
    """A fresh private key: ECDSA P-256 or RSA 2048."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    """PEM (PKCS#8, unencrypted) of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    """PEM of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(
    *, digital_signature: bool, key_encipherment: bool, cert_sign: bool
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA (``CN=dregsy-test-ca``, ``CA:TRUE``) that can issue certificates."""

    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path

    @classmethod
    def create(cls, directory: Path, *, key_type: KeyType = "ec") -> CertificateAuthority:
        """Make a new CA and write ``ca.crt`` and ``ca.key`` into *directory*."""
        key = new_private_key(key_type)
        now = datetime.datetime.now(datetime.UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(CA_COMMON_NAME))
            .issuer_name(_name(CA_COMMON_NAME))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                _key_usage(digital_signature=False, key_encipherment=False, cert_sign=True),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_path = _write(directory / "ca.crt", cert_pem(cert))
        _write(directory / "ca.key", key_pem(key), 0o600)
        return cls(cert=cert, key=key, cert_path=cert_path)

    def issue(
        self,
        common_name: str,
        *,
        usage: x509.ObjectIdentifier,
        sans: tuple[x509.GeneralName, ...] = (),
        key_type: KeyType = "ec",
    ) -> tuple[x509.Certificate, PrivateKey]:
        """Issue a leaf certificate (``CA:FALSE``) for *usage* (serverAuth or clientAuth)."""
        key = new_private_key(key_type)
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(
                    digital_signature=True,
                    key_encipherment=key_type == "rsa",
                    cert_sign=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key

    def ssl_context(self) -> ssl.SSLContext:
        """A client :class:`ssl.SSLContext` that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.cert_path))


@dataclass(frozen=True)
class CertPair:
    """A certificate file and its private-key file."""

    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class Pki:
    """A CA plus a server certificate for 127.0.0.1, ::1 and localhost, all on disk."""

    directory: Path
    ca: CertificateAuthority
    server: CertPair

    @property
    def ca_path(self) -> Path:
        """Path of ``ca.crt``."""
        return self.ca.cert_path

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the test CA."""
        return self.ca.ssl_context()

    def server_context(self) -> ssl.SSLContext:
        """A server context with the server certificate (localhost, 127.0.0.1, ::1)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server.cert_path, self.server.key_path)
        return context

    def client_pair(self, directory: Path, common_name: str = "dregsy-test-client") -> CertPair:
        """Issue a client certificate into *directory*; see :func:`make_client_cert`."""
        return make_client_cert(self.ca, directory, common_name)


def make_test_pki(directory: Path, *, key_type: KeyType = "ec") -> Pki:
    """Write ``ca.crt``, ``ca.key``, ``server.crt`` and ``server.key`` into *directory*."""
    ca = CertificateAuthority.create(directory, key_type=key_type)
    cert, key = ca.issue(
        "127.0.0.1", usage=ExtendedKeyUsageOID.SERVER_AUTH, sans=SERVER_SANS, key_type=key_type
    )
    server = CertPair(
        cert_path=_write(directory / "server.crt", cert_pem(cert)),
        key_path=_write(directory / "server.key", key_pem(key), 0o600),
    )
    return Pki(directory=directory, ca=ca, server=server)


def make_client_cert(
    ca: CertificateAuthority, directory: Path, common_name: str = "dregsy-test-client"
) -> CertPair:
    """Issue a clientAuth certificate signed by *ca*: ``client.cert`` and ``client.key``."""
    cert, key = ca.issue(common_name, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return CertPair(
        cert_path=_write(directory / "client.cert", cert_pem(cert)),
        key_path=_write(directory / "client.key", key_pem(key), 0o600),
    )


def docker_certs_dir(root: Path, host: str, ca_cert: Path, client: CertPair | None = None) -> Path:
    """Lay out Docker's ``<root>/<host:port>/ca.crt`` (plus ``client.cert``/``client.key``).

    Returns the host directory, which is also what skopeo's ``--cert-dir`` expects.
    """
    host_dir = root / host
    host_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_cert, host_dir / "ca.crt")
    if client is not None:
        shutil.copyfile(client.cert_path, host_dir / "client.cert")
        shutil.copyfile(client.key_path, host_dir / "client.key")
        (host_dir / "client.key").chmod(0o600)
    return host_dir
