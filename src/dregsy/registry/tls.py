"""TLS settings per registry, from a Docker-style certs directory.

`<certs-dir>/<host[:port]>/` holds `*.crt` CA certificates (added to the system's) and
`*.cert` + `*.key` client pairs, as Docker's `/etc/docker/certs.d` does.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from dregsy.errors import ConfigError


def ssl_context(certs_dir: Path, host: str) -> ssl.SSLContext:
    """A verifying context with the CAs and client certificate found for `host`."""
    context = ssl.create_default_context()
    host_dir = certs_dir / host
    if not host_dir.is_dir():
        return context
    for ca in sorted(host_dir.glob("*.crt")):
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load CA certificate {ca}: {exc}") from exc
    for cert in sorted(host_dir.glob("*.cert")):
        key = cert.with_suffix(".key")
        if not key.is_file():
            raise ConfigError(f"client certificate {cert} has no matching key {key.name}")
        try:
            context.load_cert_chain(certfile=str(cert), keyfile=str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load client certificate {cert}: {exc}") from exc
    return context
