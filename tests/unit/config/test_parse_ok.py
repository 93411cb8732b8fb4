"""Valid configs resolve into the expected frozen values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dregsy.config.load import parse_config
from dregsy.config.types import (
    DEFAULT_CERTS_DIR,
    DEFAULT_SKOPEO_CERTS_DIR,
    Config,
    Credentials,
    DockerSettings,
    ListerSettings,
    Location,
    Mapping,
    RelayKind,
    SkopeoSettings,
    Task,
)
from dregsy.reference import parse_registry
from dregsy.selection.tagset import TagSelection

DREGSY_EXAMPLE = """\
dockerhost: unix:///var/run/docker.sock
tasks:
  - name: task1
    interval: 60
    verbose: true
    source:
      registry: source-registry.acme.com
      auth: eyJ1c2VybmFtZSI6ICJhbGV4IiwgInBhc3N3b3JkIjogInNlY3JldCJ9Cg==
    target:
      registry: dest-registry.acme.com
      auth: eyJ1c2VybmFtZSI6ICJhbGV4IiwgInBhc3N3b3JkIjogImFsc29zZWNyZXQifQo=
    mappings:
      - from: test/image
        to: archive/test/image
        tags: ['0.1.0', '0.1.1']
      - from: test/another-image
"""

MINIMAL_TASK = """\
tasks:
  - name: t
    source: {registry: src.example.com}
    target: {registry: dst.example.com}
    mappings: [{from: app}]
"""


def parse(text: str, base_dir: Path | None = None) -> Config:
    return parse_config(textwrap.dedent(text), base_dir=base_dir)


def test_dregsy_readme_example() -> None:
    expected = Config(
        tasks=(
            Task(
                name="task1",
                source=Location(
                    registry=parse_registry("source-registry.acme.com"),
                    credentials=Credentials("alex", "secret"),
                ),
                target=Location(
                    registry=parse_registry("dest-registry.acme.com"),
                    credentials=Credentials("alex", "alsosecret"),
                ),
                mappings=(
                    Mapping(
                        "test/image",
                        "archive/test/image",
                        TagSelection.parse(("0.1.0", "0.1.1")),
                    ),
                    Mapping("test/another-image", "test/another-image", None),
                ),
                interval=60.0,
                verbose=True,
            ),
        ),
        relay=RelayKind.DOCKER,
        relay_reason="dockerhost",
        docker=DockerSettings(host="unix:///var/run/docker.sock"),
    )
    assert parse(DREGSY_EXAMPLE) == expected


def test_minimal_config_uses_defaults() -> None:
    config = parse(MINIMAL_TASK)
    assert (config.relay, config.relay_reason) == (RelayKind.NATIVE, "default")
    assert (config.watch, config.certs_dir) == (False, DEFAULT_CERTS_DIR)
    assert config.docker == DockerSettings()
    assert config.skopeo == SkopeoSettings()
    assert config.lister == ListerSettings()
    task = config.tasks[0]
    assert (task.interval, task.periodic, task.verbose) == (0.0, False, False)
    assert task.source == Location(registry=parse_registry("src.example.com"))
    assert task.mappings == (Mapping("app", "app", None, None),)


@pytest.mark.parametrize(
    ("top", "relay", "reason"),
    [
        ("relay: native", RelayKind.NATIVE, "relay: native"),
        ("relay: skopeo", RelayKind.SKOPEO, "relay: skopeo"),
        ("relay: docker", RelayKind.DOCKER, "relay: docker"),
        ("relay: docker\ndockerhost: tcp://d:2375", RelayKind.DOCKER, "relay: docker"),
        ("dockerhost: tcp://d:2375", RelayKind.DOCKER, "dockerhost"),
        ("api-version: '1.41'", RelayKind.DOCKER, "api-version"),
        ("docker: {}", RelayKind.DOCKER, "docker"),
        ("relay:", RelayKind.NATIVE, "default"),
        ("skopeo: {binary: skopeo}", RelayKind.NATIVE, "default"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_relay_choice(top: str, relay: RelayKind, reason: str) -> None:
    config = parse(top + "\n" + MINIMAL_TASK)
    assert (config.relay, config.relay_reason) == (relay, reason)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ("dockerhost: tcp://a:1\napi-version: 1.40", DockerSettings("tcp://a:1", "1.40")),
        ("docker: {dockerhost: tcp://b:2, api-version: 1.45}", DockerSettings("tcp://b:2", "1.45")),
        (
            "docker: {api-version: '1.41'}\ndockerhost: tcp://a:1",
            DockerSettings("tcp://a:1", "1.41"),
        ),
        ("docker: {dockerhost: tcp://b:2}\ndockerhost: tcp://a:1", DockerSettings("tcp://b:2")),
        (
            "docker: {keep-images: true, ping-attempts: 3, ping-interval: 0.5}",
            DockerSettings(keep_images=True, ping_attempts=3, ping_interval=0.5),
        ),
        ("docker: {ping-interval: 0}", DockerSettings(ping_interval=0.0)),
    ],
    ids=["seed-keys", "docker-section", "section-and-seed", "section-wins", "extras", "no-wait"],
)
def test_docker_settings(top: str, expected: DockerSettings) -> None:
    assert parse(top + "\n" + MINIMAL_TASK).docker == expected


def test_skopeo_certs_and_lister_settings() -> None:
    text = """\
        relay: skopeo
        watch: true
        certs-dir: certs.d
        skopeo: {binary: ./bin/skopeo, certs-dir: /srv/skopeo-certs}
        lister: {maxItems: -1, cacheDuration: 1h30m}
    """
    config = parse(textwrap.dedent(text) + MINIMAL_TASK, base_dir=Path("/etc/dregsy"))
    assert config.watch is True
    assert config.certs_dir == Path("/etc/dregsy/certs.d")
    assert config.skopeo == SkopeoSettings("/etc/dregsy/bin/skopeo", Path("/srv/skopeo-certs"))
    assert config.lister == ListerSettings(max_items=-1, cache_duration=5400.0)
    assert parse(MINIMAL_TASK).skopeo.certs_dir == DEFAULT_SKOPEO_CERTS_DIR


@pytest.mark.parametrize(
    ("lister", "expected"),
    [
        ("{maxItems: 20}", ListerSettings(20, 3600.0)),
        ("{maxItems: 0, cacheDuration: 0}", ListerSettings(100, 3600.0)),
        ("{cacheDuration: -1}", ListerSettings(100, None)),
        ("{cacheDuration: '-1'}", ListerSettings(100, None)),
        ("{cacheDuration: 300ms}", ListerSettings(100, 0.3)),
        ("{}", ListerSettings()),
    ],
    ids=["max-items", "zero-is-default", "no-cache", "no-cache-quoted", "ms", "empty"],
)
def test_global_lister(lister: str, expected: ListerSettings) -> None:
    assert parse(f"lister: {lister}\n" + MINIMAL_TASK).lister == expected


LOCATIONS = """\
tasks:
  - name: ecr
    interval: 1.5
    source:
      registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
      auth-refresh: 10h
      skip-tls-verify: true
      lister: {type: index, search: alpine}
    target:
      registry: 123456789012@public.ecr.aws
      auth-refresh: 30m
    mappings: [{from: app, platform: all, tags: []}]
  - name: anonymous
    source: {registry: gcr.io, auth: none}
    target:
      registry: http://localhost:5000/
      auth: YWxleDpzM2NyZXQ
    mappings:
      - from: busybox
        to: /mirror/busybox/
"""


def test_locations_and_mappings() -> None:
    ecr, anonymous = parse(LOCATIONS).tasks
    assert ecr.interval == 1.5
    assert ecr.source.auth_refresh == 36000.0
    assert ecr.source.skip_tls_verify is True
    assert (ecr.source.credentials, ecr.source.anonymous) == (None, False)
    assert ecr.target.registry.ecr_public_alias == "123456789012"
    assert ecr.target.auth_refresh == 1800.0
    assert ecr.mappings == (Mapping("app", "app", None, "all"),)
    assert (anonymous.source.credentials, anonymous.source.anonymous) == (None, True)
    assert anonymous.target.registry.scheme == "http"
    # base64 of `user:password` (URL-safe, unpadded), which dregsy also accepts
    assert anonymous.target.credentials == Credentials("alex", "s3cret")
    assert anonymous.mappings == (Mapping("busybox", "mirror/busybox"),)


def test_docker_hub_paths_get_library_prefix() -> None:
    text = """\
        tasks:
          - name: hub
            source: {registry: docker.io}
            target: {registry: registry-1.docker.io}
            mappings: [{from: busybox}, {from: nginx, to: mirror/nginx}]
    """
    task = parse(text).tasks[0]
    assert task.mappings == (
        Mapping("library/busybox", "library/busybox"),
        Mapping("library/nginx", "mirror/nginx"),
    )


@pytest.mark.parametrize(
    ("auth", "username", "password"),
    [
        ("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ==", "a", "b"),  # standard, padded
        ("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ", "a", "b"),  # padding dropped
        ("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6Ij8_PiJ9", "a", "??>"),  # URL-safe alphabet
        ("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6Ij8/PiJ9", "a", "??>"),  # standard alphabet
        ("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6IiJ9", "a", ""),  # empty password
    ],
    ids=["padded", "unpadded", "url-safe", "standard", "empty-password"],
)
def test_auth_encodings(auth: str, username: str, password: str) -> None:
    text = MINIMAL_TASK.replace(
        "{registry: src.example.com}", f"{{registry: s.io, auth: '{auth}'}}"
    )
    assert parse(text).tasks[0].source.credentials == Credentials(username, password)


def test_yaml_merge_keys_and_anchors() -> None:
    text = """\
        tasks:
          - name: a
            source: &hub
              registry: docker.io
            target:
              <<: *hub
              registry: quay.io
            mappings: [{from: busybox}]
    """
    task = parse(text).tasks[0]
    assert (task.source.registry.host, task.target.registry.host) == ("docker.io", "quay.io")


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [("0", 0.0), ("5", 5.0), ("0.5", 0.5), ("86400", 86400.0)],
    ids=["one-off", "below-dregsy-minimum", "fraction", "day"],
)
def test_interval_has_no_minimum(interval: str, seconds: float) -> None:
    text = MINIMAL_TASK.replace("  - name: t\n", f"  - name: t\n    interval: {interval}\n")
    task = parse(text).tasks[0]
    assert (task.interval, task.periodic) == (seconds, seconds > 0)


def test_platform_selection() -> None:
    config = parse(
        """
        tasks:
          - name: t
            source: {registry: s.io}
            target: {registry: t.io}
            mappings:
              - {from: one, platform: linux/arm64/v8}
              - {from: some, platforms: [linux/amd64, linux/arm64]}
              - {from: whole}
        """
    )
    one, some, whole = config.tasks[0].mappings
    assert (one.platform, one.platforms) == ("linux/arm64/v8", None)
    assert (some.platform, some.platforms) == (None, ("linux/amd64", "linux/arm64"))
    assert (whole.platform, whole.platforms) == (None, None)


def test_numeric_tags_keep_their_text() -> None:
    config = parse(
        """
        tasks:
          - name: t
            source: {registry: s.io}
            target: {registry: t.io}
            mappings: [{from: alpine, tags: [3.19, 3.20, 3]}]
        """
    )
    tags = config.tasks[0].mappings[0].tags
    assert tags is not None
    assert [e.text for e in tags.verbatim] == ["3.19", "3.20", "3"]
