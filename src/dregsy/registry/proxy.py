"""HTTP proxies from the environment: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY.

The registry session (`dregsy.registry.session`) asks here for each request: it goes through
the proxy named for its URL's scheme (`ALL_PROXY` for both), unless `NO_PROXY` lists its host
(host names with their subdomains, `host:port`, or `*`). HTTPS goes through an HTTP proxy
as a CONNECT tunnel, so TLS is still checked against the registry. As in Go and curl, a
proxy written without a scheme is `http://`, and loopback hosts are never proxied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from msgspec import Struct
from yarl import URL

from dregsy.errors import ConfigError


def _variable(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name.lower()) or env.get(name.upper()) or "").strip()
    return value or None


def _proxy_url(value: str | None, name: str) -> str | None:
    """A proxy URL with its scheme (`http://` when none is written), checked once."""
    if value is None:
        return None
    url = value if "://" in value else f"http://{value}"
    try:
        parsed: URL | None = URL(url)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        where = parsed.with_user(None) if parsed else "its value"
        raise ConfigError(f"{name.upper()}: not a usable http(s) proxy URL ({where})")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bypasses(no_proxy: str, host: str, port: int | None) -> bool:
    """Whether NO_PROXY (`a.com,.b.org,c:5000,*`) names `host` (or `host:port`)."""
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (port is None or entry_port != str(port)):
            continue
        name = name.lstrip(".").strip("[]")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


class ProxySettings(Struct, frozen=True):
    """Proxy URLs per scheme and the hosts that bypass them."""

    http: str | None = None
    https: str | None = None
    no_proxy: str | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> ProxySettings:
        every = _proxy_url(_variable(env, "all_proxy"), "all_proxy")
        return cls(
            http=_proxy_url(_variable(env, "http_proxy"), "http_proxy") or every,
            https=_proxy_url(_variable(env, "https_proxy"), "https_proxy") or every,
            no_proxy=_variable(env, "no_proxy"),
        )

    def proxy_for(self, url: URL) -> str | None:
        """The proxy URL for a request to `url`, or None to connect directly."""
        proxy = self.https if url.scheme == "https" else self.http
        host = url.host or ""
        if proxy is None or _is_loopback(host):
            return None
        if self.no_proxy and bypasses(self.no_proxy, host, url.explicit_port):
            return None
        return proxy
