"""TLS settings per registry, from a Docker-style certs directory.

`<certs-dir>/<host[:port]>/` holds `*.crt` CA certificates (added to the system's) and
`*.cert` + `*.key` client pairs, as Docker's `/etc/docker/certs.d` does. With the skopeo
relay, dregsy's `skopeo.certs-dir` layout (`<dir>/<host-without-port>/`) is read as well,
so the relay's own registry checks trust what skopeo trusts.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

from dregsy.errors import ConfigError


def host_material(host_dirs: Sequence[Path]) -> list[Path]:
    """The CA and client files in those of `host_dirs` that exist."""
    found: list[Path] = []
    for host_dir in host_dirs:
        if host_dir.is_dir():
            found += sorted(host_dir.glob("*.crt")) + sorted(host_dir.glob("*.cert"))
    return found


def ssl_context(host_dirs: Sequence[Path]) -> ssl.SSLContext:
    """A verifying context with the CAs and client certificates found in `host_dirs`."""
    context = ssl.create_default_context()
    for path in host_material(host_dirs):
        if path.suffix == ".crt":
            try:
                context.load_verify_locations(cafile=str(path))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load CA certificate {path}: {exc}") from exc
            continue
        key = path.with_suffix(".key")
        if not key.is_file():
            raise ConfigError(f"client certificate {path} has no matching key {key.name}")
        try:
            context.load_cert_chain(certfile=str(path), keyfile=str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load client certificate {path}: {exc}") from exc
    return context
