"""The skopeo relay's command line: flags per TLS rule, cert dirs, platforms, no secrets."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dregsy.config.types import Credentials, Location
from dregsy.manifest import Platform
from dregsy.reference import parse_registry
from dregsy.relays.skopeoargs import (
    Access,
    auth_document,
    cert_dir_for,
    copy_argv,
    docker_ref,
    failure_message,
    message_of,
    redact,
    secrets_of,
    tls_verify,
)

SECRET = "pa:ss w0rd!"
CREDS = Credentials("alice", SECRET)
DIGEST = "sha256:" + "ab" * 32


def _location(registry: str, **kw: object) -> Location:
    return Location(parse_registry(registry), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("registry", "skip", "verify"),
    [
        ("127.0.0.1:5000", False, False),  # loopback without scheme: plain HTTP
        ("localhost:5000", False, False),
        ("[::1]:5000", False, False),
        ("https://127.0.0.1:5000", False, True),  # a scheme beats the loopback rule
        ("http://registry.example.com", False, False),
        ("registry.example.com", False, True),
        ("registry.example.com", True, False),
        ("https://registry.example.com", True, False),  # skip-tls-verify wins
        ("docker.io", False, True),
    ],
)
def test_tls_verify_follows_the_shared_rule(registry: str, skip: bool, verify: bool) -> None:
    assert tls_verify(_location(registry, skip_tls_verify=skip)) is verify


def test_cert_dir_drops_the_port() -> None:
    root = Path("/etc/skopeo/certs.d")
    assert cert_dir_for(root, parse_registry("127.0.0.1:5000")) == root / "127.0.0.1"
    assert cert_dir_for(root, parse_registry("https://reg.example.com:443")) == (
        root / "reg.example.com"
    )
    assert cert_dir_for(root, parse_registry("[::1]:5000")) == root / "::1"


def test_auth_document_is_the_containers_format() -> None:
    doc = auth_document(parse_registry("127.0.0.1:5011"), CREDS)
    token = doc["auths"]["127.0.0.1:5011"]["auth"]
    assert base64.b64decode(token).decode() == f"alice:{SECRET}"
    assert list(doc["auths"]) == ["127.0.0.1:5011"]
    assert auth_document(parse_registry("index.docker.io"), CREDS)["auths"].keys() == {"docker.io"}


def _argv(platform: Platform | None = None, **access: Access) -> list[str]:
    registry = parse_registry("127.0.0.1:5001")
    source = registry.repository("demo/multi").digest(DIGEST)
    target = parse_registry("reg.example.com").repository("mirror/multi").tag("m1")
    src = access.get("src", Access("src", tls_verify=False))
    dest = access.get("dest", Access("dest", tls_verify=True))
    return copy_argv("skopeo", source, target, src, dest, platform=platform, retry_times=3)


def test_whole_index_copy_argv() -> None:
    assert _argv() == [
        "skopeo",
        "--insecure-policy",
        "copy",
        "--all",
        "--preserve-digests",
        "--retry-times",
        "3",
        "--src-tls-verify=false",
        "--dest-tls-verify=true",
        f"docker://127.0.0.1:5001/demo/multi@{DIGEST}",
        "docker://reg.example.com/mirror/multi:m1",
    ]


@pytest.mark.parametrize(
    ("platform", "overrides"),
    [
        (Platform("linux", "arm64"), ["--override-os", "linux", "--override-arch", "arm64"]),
        (
            Platform("linux", "arm", "v7"),
            ["--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7"],
        ),
    ],
)
def test_platform_overrides_replace_all(platform: Platform, overrides: list[str]) -> None:
    argv = _argv(platform)
    copy_at = argv.index("copy")
    assert argv[1:copy_at] == ["--insecure-policy", *overrides]  # global flags, before `copy`
    assert "--all" not in argv
    assert "--preserve-digests" in argv[copy_at:]


def test_credentials_only_through_auth_files(tmp_path: Path) -> None:
    src = Access("src", tls_verify=False, auth_file=tmp_path / "src-auth.json")
    dest = Access(
        "dest", tls_verify=True, cert_dir=tmp_path / "reg.example.com", auth_file=tmp_path / "d"
    )
    argv = _argv(src=src, dest=dest)
    assert f"--src-authfile={tmp_path / 'src-auth.json'}" in argv
    assert f"--dest-authfile={tmp_path / 'd'}" in argv
    assert f"--dest-cert-dir={tmp_path / 'reg.example.com'}" in argv
    assert not [a for a in argv if "creds" in a or "password" in a or "username" in a]
    joined = " ".join(argv)
    for secret in secrets_of(CREDS):
        assert secret not in joined


def test_auth_none_is_anonymous_and_no_auth_uses_defaults() -> None:
    anonymous = _argv(src=Access("src", tls_verify=False, no_creds=True))
    assert "--src-no-creds" in anonymous
    default = _argv()
    assert not [a for a in default if "authfile" in a or "no-creds" in a]


def test_secrets_of_lists_password_and_token() -> None:
    secrets = secrets_of(CREDS, None)
    assert SECRET in secrets
    assert base64.b64encode(f"alice:{SECRET}".encode()).decode() in secrets
    assert redact(f"x {SECRET} y", secrets) == "x *** y"


def test_docker_ref_by_tag_or_digest() -> None:
    repo = parse_registry("docker.io").repository("busybox")
    assert docker_ref(repo.tag("1.36")) == "docker://docker.io/library/busybox:1.36"
    assert docker_ref(repo.digest(DIGEST)) == f"docker://docker.io/library/busybox@{DIGEST}"


def test_failure_message_takes_the_end_of_stderr() -> None:
    fatal = (
        'time="2026-11-29T05:16:22Z" level=fatal msg="initializing source docker://h/a:v1: '
        'pinging container registry h: Get \\"https://h/v2/\\": http: server gave HTTP '
        'response to HTTPS client"'
    )
    lines = [
        'time="2026-11-29T05:16:21Z" level=warning msg="one"',
        'time="2026-11-29T05:16:21Z" level=warning msg="two"',
        "plain text",
        fatal,
    ]
    text = failure_message(1, lines)
    assert text.startswith("warning: two; plain text; initializing source docker://h/a:v1")
    assert 'Get "https://h/v2/": http: server gave' in text
    assert "time=" not in text
    assert failure_message(2, []) == "skopeo exited with status 2 and no message"
    assert message_of(fatal).endswith("response to HTTPS client")


def test_an_auth_file_wins_over_no_creds(tmp_path: Path) -> None:
    access = Access("dest", tls_verify=False, auth_file=tmp_path / "a", no_creds=True)
    assert access.flags() == ["--dest-tls-verify=false", f"--dest-authfile={tmp_path / 'a'}"]
