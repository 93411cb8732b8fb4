"""The HTTP endpoint's address: `-listen=ADDR` or `listen: ADDR`, as `[HOST]:PORT`.

Pure: parsing only. `:9090` listens on every interface, `127.0.0.1:9090` or
`[::1]:9090` on one; port 0 picks a free port (the log line says which).
"""

from __future__ import annotations

import ipaddress
import re

from msgspec import Struct

_HOST_NAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
SHAPE = "[HOST]:PORT, e.g. ':9090' or '127.0.0.1:9090'"


class AddressError(ValueError):
    """A listen value that does not parse; the message is the sentence the user reads."""


class ListenAddress(Struct, frozen=True):
    """Where the HTTP endpoint listens; `host` None: every interface."""

    host: str | None
    port: int

    def __str__(self) -> str:
        if self.host is None:
            return f":{self.port}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """`:9090`, `0.0.0.0:9090`, `localhost:9090`, `[::1]:9090` -> ListenAddress."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        raise AddressError(f"must be {SHAPE}, not {value!r}")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise AddressError(f"has an invalid port {port_text!r}: it must be 0 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AddressError(f"has an invalid IPv6 address {host!r}") from None
    elif ":" in host:
        raise AddressError(f"must put an IPv6 address in brackets ([::1]:9090), not {value!r}")
    elif host and not _HOST_NAME.fullmatch(host):
        raise AddressError(f"has an invalid host {host!r}; it must be {SHAPE}")
    return ListenAddress(host or None, int(port_text))
