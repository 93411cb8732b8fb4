"""Proxies from the environment: which requests go through which proxy."""

from __future__ import annotations

import pytest
from yarl import URL

from dregsy.errors import ConfigError
from dregsy.registry.proxy import ProxySettings, bypasses


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypassed"),
    [
        ("127.0.0.1,localhost", "127.0.0.1", 5000, True),
        ("localhost", "localhost", None, True),
        (".example.com", "a.example.com", None, True),
        ("example.com", "a.example.com", 443, True),
        ("example.com", "example.org", 443, False),
        ("example.com:443", "example.com", 443, True),
        ("example.com:443", "example.com", 5000, False),
        ("*", "anything", None, True),
        ("", "gcr.io", 443, False),
    ],
)
def test_no_proxy(no_proxy: str, host: str, port: int | None, bypassed: bool) -> None:
    assert bypasses(no_proxy, host, port) is bypassed


def test_settings_from_environment() -> None:
    env = {"HTTPS_PROXY": "http://p:3128", "no_proxy": "127.0.0.1", "ALL_PROXY": "http://all:1"}
    settings = ProxySettings.from_environment(env)
    assert settings == ProxySettings("http://all:1", "http://p:3128", "127.0.0.1")
    assert settings.proxy_for(URL("https://gcr.io/v2/")) == "http://p:3128"
    assert settings.proxy_for(URL("http://reg.test/v2/")) == "http://all:1"
    assert settings.proxy_for(URL("http://127.0.0.1:5000/v2/")) is None
    assert ProxySettings.from_environment({}).proxy_for(URL("https://x/")) is None


def test_proxy_without_scheme_is_http_and_loopback_is_direct() -> None:
    settings = ProxySettings.from_environment({"HTTPS_PROXY": "proxy.corp:3128"})
    assert settings.proxy_for(URL("https://quay.io/v2/")) == "http://proxy.corp:3128"
    assert settings.proxy_for(URL("https://127.0.0.1:5000/v2/")) is None
    assert settings.proxy_for(URL("https://localhost:5000/v2/")) is None


def test_unusable_proxy_is_a_config_error_without_its_password() -> None:
    with pytest.raises(ConfigError, match="HTTPS_PROXY") as caught:
        ProxySettings.from_environment({"https_proxy": "socks5://user:s3cret@proxy:1080"})
    assert "s3cret" not in str(caught.value)
