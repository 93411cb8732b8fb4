from __future__ import annotations

import pytest

from dregsy.errors import InvalidReferenceError
from dregsy.reference import Repository, parse_registry


@pytest.mark.parametrize(
    ("text", "host", "scheme", "api_host"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000", None, "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000", "http", "127.0.0.1:5000"),
        ("HTTPS://Registry.Example.com", "registry.example.com", "https", "registry.example.com"),
        ("docker.io", "docker.io", None, "registry-1.docker.io"),
        ("index.docker.io", "docker.io", None, "registry-1.docker.io"),
        ("registry-1.docker.io", "docker.io", None, "registry-1.docker.io"),
        ("registry.hub.docker.com", "docker.io", None, "registry-1.docker.io"),
        ("https://Registry.Hub.Docker.com", "docker.io", "https", "registry-1.docker.io"),
        ("[::1]:5000", "[::1]:5000", None, "[::1]:5000"),
    ],
)
def test_parse_registry(text: str, host: str, scheme: str | None, api_host: str) -> None:
    registry = parse_registry(text)
    assert (registry.host, registry.scheme, registry.api_host) == (host, scheme, api_host)


@pytest.mark.parametrize("text", ["", "http://", "a b", "host:99999", "x@quay.io", "ftp//x"])
def test_parse_registry_rejects(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_registry(text)


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        ("registry.example.com", False),
        ("10.0.0.1:5000", False),
    ],
)
def test_loopback(text: str, loopback: bool) -> None:
    assert parse_registry(text).is_loopback is loopback


def test_ecr_detection() -> None:
    private = parse_registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    assert private.is_ecr
    assert private.ecr_region == "eu-west-1"
    public = parse_registry("123456789012@public.ecr.aws")
    assert public.is_ecr
    assert public.host == "public.ecr.aws"
    assert public.ecr_public_alias == "123456789012"
    assert not parse_registry("quay.io").is_ecr


def test_docker_hub_library_namespace() -> None:
    hub = parse_registry("docker.io")
    assert Repository.parse(hub, "alpine").path == "library/alpine"
    assert Repository.parse(hub, "bitnami/redis").path == "bitnami/redis"
    other = parse_registry("quay.io")
    assert Repository.parse(other, "alpine").path == "alpine"


def test_repository_rejects_upper_case_with_hint() -> None:
    with pytest.raises(InvalidReferenceError, match="lower-case"):
        Repository.parse(parse_registry("quay.io"), "Demo/App")


def test_references() -> None:
    repo = Repository.parse(parse_registry("127.0.0.1:5000"), "demo/app")
    assert str(repo.tag("v1")) == "127.0.0.1:5000/demo/app:v1"
    digest = "sha256:" + "a" * 64
    assert repo.digest(digest).identifier == digest
    assert repo.scope("pull", "push") == "repository:demo/app:pull,push"
    with pytest.raises(InvalidReferenceError):
        repo.tag("-bad")
    with pytest.raises(InvalidReferenceError):
        repo.digest("sha256:short")
