"""Docker config.json lookups: auths entries, credHelpers, credsStore, real helper programs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from dregsy.auth.dockerconfig import (
    DockerConfigSource,
    docker_config_path,
    host_of_key,
    read_docker_config,
    server_url,
)
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.reference import parse_registry
from tests.support.credhelper import helper_calls, write_helper

SECRET = "helper-secret-Xq7"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory: Path, doc: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(doc))
    return path


def source(path: Path, registry: str, bin_dir: Path | None = None) -> DockerConfigSource:
    search = str(bin_dir) if bin_dir is not None else "/nonexistent"
    return DockerConfigSource(parse_registry(registry), path, search_path=search)


def test_config_path_from_environment() -> None:
    assert docker_config_path({"DOCKER_CONFIG": "/d", "HOME": "/h"}) == Path("/d/config.json")
    assert docker_config_path({"HOME": "/h"}) == Path("/h/.docker/config.json")
    assert docker_config_path({}) is None


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("registry.hub.docker.com", "docker.io"),
        ("https://registry.hub.docker.com/v2/", "docker.io"),
        ("https://Reg.Example.com:5000/v2/", "reg.example.com:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("gcr.io", "gcr.io"),
    ],
)
def test_keys_are_compared_by_host(key: str, host: str) -> None:
    assert host_of_key(key) == host


async def test_auths_entry_both_forms(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
                "reg.test:5000": {"username": "u", "password": "p"},
                "token.test": {"identitytoken": "opaque"},
            }
        },
    )
    assert await source(path, "docker.io").get() == Credentials("hubuser", "hubpass")
    # every name of Docker Hub finds Docker Hub's entry
    assert await source(path, "registry.hub.docker.com").get() == Credentials("hubuser", "hubpass")
    assert await source(path, "reg.test:5000").get() == Credentials("u", "p")
    assert await source(path, "token.test").get() is None
    assert await source(path, "other.test").get() is None
    assert "hubpass" not in repr(read_docker_config(path))


async def test_missing_file_is_anonymous(tmp_path: Path) -> None:
    assert await source(tmp_path / "nope.json", "reg.test").get() is None


async def test_invalid_file_names_the_file_not_the_content(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"reg.test": {"auth": "' + SECRET + '!"}}}')
    with pytest.raises(CredentialError) as info:
        await source(path, "reg.test").get()
    assert str(path) in str(info.value)
    assert SECRET not in str(info.value)
    path.write_text(SECRET + "{")
    with pytest.raises(CredentialError, match="not valid JSON") as info:
        await source(path, "reg.test").get()
    assert SECRET not in str(info.value)


async def test_cred_helper_gets_the_server_url_on_stdin(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_helper(bin_dir, "test", {"reg.test:5000": ("helper-user", SECRET)})
    path = write_config(
        tmp_path,
        {
            "credHelpers": {"reg.test:5000": "test"},
            "auths": {"reg.test:5000": {"auth": b64("file-user:file-pass")}},
        },
    )
    creds = source(path, "reg.test:5000", bin_dir)
    assert await creds.get() == Credentials("helper-user", SECRET)
    assert creds.label == "credential helper docker-credential-test"
    assert await creds.get() == Credentials("helper-user", SECRET)  # cached
    assert helper_calls(bin_dir, "test") == [{"argv": ["get"], "stdin": "reg.test:5000"}]


async def test_creds_store_for_docker_hub_then_auths_fallback(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_helper(bin_dir, "store", {"https://index.docker.io/v1/": ("hub", SECRET)})
    path = write_config(
        tmp_path,
        {"credsStore": "store", "auths": {"reg.test": {"auth": b64("file-user:file-pass")}}},
    )
    assert await source(path, "docker.io", bin_dir).get() == Credentials("hub", SECRET)
    # the store has nothing for reg.test: the auths entry is used
    assert await source(path, "reg.test", bin_dir).get() == Credentials("file-user", "file-pass")
    calls = helper_calls(bin_dir, "store")
    assert [c["stdin"] for c in calls] == ["https://index.docker.io/v1/", "reg.test"]


async def test_helper_failures_are_clear(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    path = write_config(tmp_path, {"credHelpers": {"reg.test": "missing"}})
    with pytest.raises(CredentialError, match="docker-credential-missing is not on PATH"):
        await source(path, "reg.test", bin_dir).get()
    write_helper(bin_dir, "locked", {}, fail=True)
    path = write_config(tmp_path, {"credHelpers": {"reg.test": "locked"}})
    with pytest.raises(CredentialError, match=r"exit status 3.*keychain is locked"):
        await source(path, "reg.test", bin_dir).get()
    path = write_config(tmp_path, {"credHelpers": {"reg.test": "../../bin/sh"}})
    with pytest.raises(CredentialError, match="invalid credential helper name"):
        await source(path, "reg.test", bin_dir).get()


async def test_missing_creds_store_falls_back_to_auths(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {"credsStore": "desktop", "auths": {"reg.test": {"auth": b64("file-user:file-pass")}}},
    )
    creds = source(path, "reg.test", tmp_path / "bin")
    assert await creds.get() == Credentials("file-user", "file-pass")
    assert await source(path, "other.test", tmp_path / "bin").get() is None


@pytest.mark.parametrize(
    "name", ["registry.hub.docker.com", "docker.io", "index.docker.io", "registry-1.docker.io"]
)
def test_every_docker_hub_name_asks_for_docker_hubs_key(name: str) -> None:
    assert server_url(parse_registry(name)) == "https://index.docker.io/v1/"
