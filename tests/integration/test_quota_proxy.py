"""The quota proxy itself, checked with raw HTTP and skopeo (no dregsy code involved)."""

from __future__ import annotations

import http.client

import pytest

from tests.support import skopeo
from tests.support.quota_proxy import QuotaProxy
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("skopeo")]

ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


def _ask(proxy: QuotaProxy, method: str, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    connection.request(method, path, headers={"Accept": ACCEPT})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_adds_quota_headers_counts_pulls_and_refuses(seeded: SeededImages) -> None:
    with QuotaProxy(seeded.registry, limit=100) as proxy:
        path = "/v2/demo/app/manifests/v1"
        assert _ask(proxy, "HEAD", path).getheader("RateLimit-Remaining") is None  # not set
        proxy.set_remaining(5)
        head = _ask(proxy, "HEAD", path)
        assert head.status == 200
        assert head.getheader("RateLimit-Limit") == "100;w=21600"
        assert head.getheader("RateLimit-Remaining") == "5;w=21600"  # HEADs are free
        assert head.getheader("Docker-Content-Digest") == seeded.digest("demo/app:v1")
        assert _ask(proxy, "GET", path).getheader("RateLimit-Remaining") == "4;w=21600"
        assert _ask(proxy, "GET", "/v2/").getheader("RateLimit-Remaining") is None
        proxy.refuse(1, retry_after="7")
        refused = _ask(proxy, "GET", path)
        assert (refused.status, refused.getheader("Retry-After")) == (429, "7")
        # what skopeo reads through the proxy is the registry's manifest, byte for byte
        assert skopeo.digest_of(f"{proxy.host}/demo/app:v1") == seeded.digest("demo/app:v1")
    assert [(s.method, s.status) for s in proxy.seen()[:5]] == [
        ("HEAD", 200),
        ("HEAD", 200),
        ("GET", 200),
        ("GET", 200),
        ("GET", 429),
    ]
