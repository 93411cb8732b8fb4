"""dregsy's own configs, run unchanged but for the registries: loopback registries stand in
for Docker Hub (a `library/busybox` with busybox's shape of tags) and for dregsy's local
target. Each config here is written to stand for a file of xelalexv/dregsy at tag 0.5.2
(named in its docstring), and lands exactly the tags that dregsy's `cmd/dregsy/main_test.go`
expects; copies are checked with skopeo, not with dregsy's own code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.busybox import Busybox, put_manifest, seed_busybox
from tests.support.dockerd import DockerDaemon
from tests.support.dregsy_cli import Daemon, Result, run
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

# dregsy's `.LocalAuth`: anonymous credentials for a registry without auth
LOCAL_AUTH = "eyJ1c2VybmFtZSI6ICJhbm9ueW1vdXMiLCAicGFzc3dvcmQiOiAiYW5vbnltb3VzIn0K"


@pytest.fixture
def busybox(source_registry: RegistryServer, tmp_path: Path) -> Busybox:
    return seed_busybox(source_registry, tmp_path / "busybox-layout")


def _run(tmp_path: Path, name: str, text: str) -> Result:
    config = tmp_path / f"{name}.yaml"
    config.write_text(text)
    return run(config)


def _locations(source: str, target: str, relay: str) -> str:
    """A task's source (standing for registry.hub.docker.com) and target (127.0.0.1:5000)."""
    skip = "    # not actually supported for Docker relay, but needed for validation\n"
    return (
        f"  source:\n    registry: {source}\n"
        f"  target:\n    registry: {target}\n    auth: {LOCAL_AUTH}\n"
        + (skip if relay == "docker" else "")
        + "    skip-tls-verify: true\n"
    )


def _head(relay: str, dockerhost: str | None) -> str:
    if relay == "docker":
        return f"relay: docker\n\ndocker:\n  dockerhost: {dockerhost}\n\ntasks:\n"
    return f"relay: {relay}\n\ntasks:\n"


def _tagset(
    relay: str, kind: str, src: str, dst: str, tags: list[str], dockerhost: str | None
) -> str:
    """e2e/tagsets/<relay>-<kind>.yaml: one task, one busybox mapping with these tags."""
    entries = "".join(f"    - '{tag}'\n" for tag in tags)
    return (
        _head(relay, dockerhost)
        + f"- name: test-{relay}-{kind}\n  verbose: true\n"
        + _locations(src, dst, relay)
        + "  mappings:\n  - from: library/busybox\n"
        + f"    to: tagsets-{relay}/{kind}/busybox\n    tags:\n{entries}"
    )


def _regex(relay: str, src: str, dst: str, dockerhost: str | None) -> str:
    """e2e/tagsets/<relay>-regex.yaml: the second task reads what the first one wrote."""
    return (
        _head(relay, dockerhost)
        + f"\n- name: test-{relay}-regex\n  verbose: true\n"
        + _locations(src, dst, relay)
        + "  mappings:\n  - from: library/busybox\n"
        + f"    to: tagsets-{relay}/regex/busybox\n"
        + "    tags:\n    - 'regex: 1\\.26\\.1-(glibc|uclibc|musl)'\n"
        + f"\n- name: test-{relay}-regex-inverted # depends on results of the task above\n"
        + f"  verbose: true\n  source:\n    registry: {dst}\n    skip-tls-verify: true\n"
        + f"  target:\n    registry: {dst}\n    auth: {LOCAL_AUTH}\n    skip-tls-verify: true\n"
        + f"  mappings:\n  - from: tagsets-{relay}/regex/busybox\n"
        + f"    to: tagsets-{relay}/regexinv/busybox\n"
        + "    tags:\n    - 'regex: !.+(glibc|musl)'\n"
    )


# main_test.go: TestE2ESkopeoTagSetsRange, ...Prune, ...Limit
TAGSETS = {
    "range": (
        ["semver: >=1.31.0 <1.31.9", "latest"],
        ["latest", "1.31", "1.31.0", "1.31.1-musl", "1.31.1", "1.31.1-uclibc", "1.31.1-glibc"],
    ),
    "prune": (
        ["semver: >=1.31.0 <1.31.9", "keep: .+(glibc|musl)"],
        ["1.31.1-musl", "1.31.1-glibc"],
    ),
    "limit": (
        ["glibc", "semver: >=1.33.0 <=1.36.0", "keep: latest 5"],
        ["1.36", "1.36.0", "1.36.0-glibc", "1.36.0-musl", "1.36.0-uclibc", "glibc"],
    ),
}


def _tags(ref: str) -> list[str]:
    return sorted(skopeo.list_tags(ref))


@pytest.mark.parametrize("relay", ["skopeo", "native"])
def test_tagsets_land_what_dregsy_lands(
    relay: str, busybox: Busybox, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """e2e/tagsets/skopeo-{range,prune,limit,regex,digest}.yaml, each run once on empty
    targets, as dregsy's e2e tests run them (the native relay: the same files without the
    `relay` line's value)."""
    src, dst = busybox.registry.host, target_registry.host
    for kind, (entries, expected) in TAGSETS.items():
        result = _run(tmp_path, kind, _tagset(relay, kind, src, dst, entries, None))
        assert result.returncode == 0, result.stderr
        assert _tags(f"{dst}/tagsets-{relay}/{kind}/busybox") == sorted(expected), kind

    # chained tasks, on the first run: the inverted task reads what the first one wrote
    result = _run(tmp_path, "regex", _regex(relay, src, dst, None))
    assert result.returncode == 0, result.stderr
    assert (
        f"task test-{relay}-regex-inverted runs after test-{relay}-regex: its source "
        f"registry {dst} is their target"
    ) in result.stderr
    assert _tags(f"{dst}/tagsets-{relay}/regex/busybox") == [
        "1.26.1-glibc",
        "1.26.1-musl",
        "1.26.1-uclibc",
    ]
    assert _tags(f"{dst}/tagsets-{relay}/regexinv/busybox") == ["1.26.1-uclibc"]

    # TestE2ESkopeoTagSetsDigest: a digest alone lands untagged, by digest
    musl, uclibc = busybox.own["1.36.0-musl"], busybox.own["1.35.0-uclibc"]
    entries = [musl.digest, f"1.35.0-uclibc@{uclibc.digest}", "keep: all.+"]
    result = _run(tmp_path, "digest", _tagset(relay, "digest", src, dst, entries, None))
    assert result.returncode == 0, result.stderr
    repo = f"{dst}/tagsets-{relay}/digest/busybox"
    assert _tags(repo) == ["1.35.0-uclibc"]
    for image in (musl, uclibc):
        assert skopeo.inspect_raw(f"{repo}@{image.digest}") == image.manifest_bytes
    again = _run(tmp_path, "digest", _tagset(relay, "digest", src, dst, entries, None))
    assert "0 copied, 2 skipped, 0 failed" in again.stderr


@pytest.mark.parametrize("relay", ["skopeo", "native"])
def test_platforms_as_containerd_matches_them(
    relay: str, busybox: Busybox, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """e2e/base/skopeo-platform.yaml (linux/arm64/v8 against an index whose arm64 entry
    has no variant, and linux/amd64), e2e/base/skopeo-platform-all.yaml, the arm/v6 of
    test/fixtures/config/skopeo-valid.yaml, `linux/arm` (v7, not the first arm entry), and
    an older variant standing in, with a warning."""
    src, dst = busybox.registry.host, target_registry.host
    picks = {
        "busybox-arm64": ("linux/arm64/v8", busybox.platform("linux", "arm64")),
        "busybox-amd64": ("linux/amd64", busybox.platform("linux", "amd64")),
        "busybox-arm": ("linux/arm", busybox.platform("linux", "arm", "v7")),
        "busybox-armv6": ("linux/arm/v6", busybox.platform("linux", "arm", "v6")),
        # no amd64/v3 in the index: the v1 image stands in, and the log says so
        "busybox-amd64v3": ("linux/amd64/v3", busybox.platform("linux", "amd64")),
    }
    mappings = "".join(
        f"  - from: library/busybox\n    to: base-{relay}/library/{name}\n"
        f"    tags: ['latest']\n    platform: {platform}\n"
        for name, (platform, _) in picks.items()
    )
    mappings += (
        f"  - from: library/busybox\n    to: base-{relay}/library/busybox-all\n"
        "    tags: ['latest']\n    platform: all\n"
    )
    text = (
        _head(relay, None)
        + "- name: test-platform\n  interval: 0\n  verbose: true\n"
        + _locations(src, dst, relay)
        + "  mappings:\n"
        + mappings
    )
    result = _run(tmp_path, "platform", text)
    assert result.returncode == 0, result.stderr
    assert "6 copied, 0 skipped, 0 failed" in result.stderr
    assert "has no image for linux/amd64/v3: copying linux/amd64, the closest" in result.stderr
    for name, (_, image) in picks.items():
        ref = f"{dst}/base-{relay}/library/{name}:latest"
        assert skopeo.inspect_raw(ref) == image.manifest_bytes, name
        assert skopeo.digest_of(ref) == image.digest, name
    assert skopeo.digest_of(f"{dst}/base-{relay}/library/busybox-all:latest") == (
        busybox.latest.digest
    )
    again = _run(tmp_path, "platform", text)
    assert "0 copied, 6 skipped, 0 failed" in again.stderr


def test_readme_example_runs_with_the_skopeo_relay_and_a_docker_section(
    busybox: Busybox, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """README.md's first example: `relay: skopeo` next to a `docker:` section."""
    src, dst = busybox.registry.host, target_registry.host
    skopeo.push(busybox.layout, "shared", f"{src}/test/image:0.1.0")
    put_manifest(busybox.registry, "test/image", "0.1.1", busybox.shared)
    skopeo.push(busybox.layout, "latest", f"{src}/test/another-image:latest")
    text = f"""\
# relay type, either 'skopeo' or 'docker'
relay: skopeo

watch: false

skopeo:
  binary: skopeo
  certs-dir: {tmp_path / "certs.d"}

docker:
  dockerhost: unix:///var/run/docker.sock
  api-version: 1.41

lister:
  maxItems: 100
  cacheDuration: 1h

tasks:
  - name: task1
    verbose: true
    source:
      registry: {src}
      auth: {LOCAL_AUTH}
    target:
      registry: {dst}
      auth: {LOCAL_AUTH}
      skip-tls-verify: true
    mappings:
      - from: test/image
        to: archive/test/image
        tags: ['0.1.0', '0.1.1']
      - from: test/another-image
        platform: linux/arm64/v8
"""
    result = _run(tmp_path, "readme", text)
    assert result.returncode == 0, result.stderr
    assert (
        "line 10: docker: is a setting of the docker relay, but the relay is skopeo"
        in result.stderr
    )
    assert _tags(f"{dst}/archive/test/image") == ["0.1.0", "0.1.1"]
    assert skopeo.digest_of(f"{dst}/archive/test/image:0.1.1") == busybox.shared.digest
    arm64 = busybox.platform("linux", "arm64")
    assert skopeo.inspect_raw(f"{dst}/test/another-image:latest") == arm64.manifest_bytes


def test_mapping_local_regex_over_the_catalog(
    busybox: Busybox, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """e2e/mapping/skopeo-local.yaml: what TestE2ESkopeoMappingDockerhub left in the local
    registry is copied within it by a regex mapping with a rewrite."""
    dst = target_registry.host
    for name in ("public", "private"):
        ref = f"{dst}/mapping-skopeo/dh/xelalex/dregsy-dummy-{name}:latest"
        skopeo.push(busybox.layout, "shared", ref)
    text = f"""\
relay: skopeo

tasks:
- name: test-local # depends on results of skopeo-dockerhub test
  verbose: true
  source:
    registry: {dst}
    skip-tls-verify: true
  target:
    registry: {dst}
    auth: {LOCAL_AUTH}
    skip-tls-verify: true
  mappings:
  - from: regex:mapping-skopeo/dh/xelalex/dregsy-dummy.*
    to: regex:mapping-skopeo/dh/,mapping-skopeo/dh-copy/
"""
    result = _run(tmp_path, "local", text)
    assert result.returncode == 0, result.stderr
    for name in ("public", "private"):
        repo = f"{dst}/mapping-skopeo/dh-copy/xelalex/dregsy-dummy-{name}"
        assert _tags(repo) == ["latest"]
        assert skopeo.digest_of(f"{repo}:latest") == busybox.shared.digest


def _config_digest(ref: str) -> str:
    manifest = json.loads(skopeo.inspect_raw(ref))
    digest: str = manifest["config"]["digest"]
    return digest


def test_docker_relay_digest_and_platform_configs(
    busybox: Busybox, target_registry: RegistryServer, dockerd: DockerDaemon, tmp_path: Path
) -> None:
    """e2e/tagsets/docker-digest.yaml (TestE2EDockerTagSetsDigest: a digest alone is pushed
    as tag `dregsy-<hex>`), e2e/tagsets/docker-regex.yaml (chained tasks) and
    e2e/base/docker-platform.yaml (linux/arm64/v8)."""
    src, dst = busybox.registry.host, target_registry.host
    musl, uclibc = busybox.own["1.36.0-musl"], busybox.own["1.35.0-uclibc"]
    entries = [musl.digest, f"1.35.0-uclibc@{uclibc.digest}", "keep: all.+"]
    text = _tagset("docker", "digest", src, dst, entries, dockerd.host)
    result = _run(tmp_path, "docker-digest", text)
    assert result.returncode == 0, result.stderr
    invented = f"dregsy-{musl.digest.removeprefix('sha256:')}"
    assert f"the target gets the tag '{invented}', as with dregsy" in result.stderr
    repo = f"{dst}/tagsets-docker/digest/busybox"
    assert _tags(repo) == sorted([invented, "1.35.0-uclibc"])
    # the daemon rewrites manifests; the image config is the source's
    assert _config_digest(f"{repo}:{invented}") == musl.config_digest
    assert _config_digest(f"{repo}:1.35.0-uclibc") == uclibc.config_digest
    again = _run(tmp_path, "docker-digest", text)
    assert "0 copied, 2 skipped, 0 failed" in again.stderr  # the invented tag is checked

    result = _run(tmp_path, "docker-regex", _regex("docker", src, dst, dockerd.host))
    assert result.returncode == 0, result.stderr
    assert _tags(f"{dst}/tagsets-docker/regex/busybox") == [
        "1.26.1-glibc",
        "1.26.1-musl",
        "1.26.1-uclibc",
    ]
    assert _tags(f"{dst}/tagsets-docker/regexinv/busybox") == ["1.26.1-uclibc"]

    platforms = (
        _head("docker", dockerd.host)
        + "- name: test-platform\n  interval: 0\n  verbose: true\n"
        + _locations(src, dst, "docker")
        + "  mappings:\n"
        + "  - from: library/busybox\n    to: base-docker/library/busybox-arm64\n"
        + "    tags: ['latest']\n    platform: linux/arm64/v8\n"
        + "  - from: library/busybox\n    to: base-docker/library/busybox-amd64\n"
        + "    tags: ['latest']\n    platform: linux/amd64\n"
    )
    result = _run(tmp_path, "docker-platform", platforms)
    assert result.returncode == 0, result.stderr
    arm64, amd64 = busybox.platform("linux", "arm64"), busybox.platform("linux", "amd64")
    arm64_ref = f"{dst}/base-docker/library/busybox-arm64:latest"
    assert _config_digest(arm64_ref) == arm64.config_digest
    amd64_ref = f"{dst}/base-docker/library/busybox-amd64:latest"
    assert _config_digest(amd64_ref) == amd64.config_digest
    # the unchanged-check finds the arm64 entry too: nothing is pulled again
    again = _run(tmp_path, "docker-platform", platforms)
    assert "0 copied, 2 skipped, 0 failed" in again.stderr


def test_configs_dregsy_loads_run_with_warnings(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """Repeated task names, registries with a path, a task without mappings, a duration
    without a unit: dregsy runs such a config, and so does this, saying what it noticed."""
    src, dst = seeded.registry.host, target_registry.host
    text = f"""\
lister: {{maxItems: 10, cacheDuration: 90}}
tasks:
- name: mirror
  source: {{registry: {src}}}
  target: {{registry: '{dst}/prefix'}}
  mappings: [{{from: demo/app, tags: [v1]}}]
- name: mirror
  source: {{registry: '{src}/demo'}}
  target: {{registry: {dst}}}
  mappings: [{{from: app, to: copy/app, tags: [v2]}}]
- name: nothing
  source: {{registry: {src}}}
  target: {{registry: {dst}}}
"""
    result = _run(tmp_path, "lenient", text)
    assert result.returncode == 0, result.stderr
    assert "line 1: lister.cacheDuration: 90 has no unit" in result.stderr
    assert "line 7: tasks[1].name: task name 'mirror' is also used by tasks[0]" in result.stderr
    assert "line 11: tasks[2]: task 'nothing' has no mappings" in result.stderr
    assert "task mirror: 1 copied" in result.stderr
    assert "task mirror#2: 1 copied" in result.stderr
    assert skopeo.digest_of(f"{dst}/prefix/demo/app:v1") == seeded.digest("demo/app:v1")
    assert skopeo.digest_of(f"{dst}/copy/app:v2") == seeded.digest("demo/app:v2")


def test_docker_deprecated_fixture_without_tasks_ends_at_once(tmp_path: Path) -> None:
    """test/fixtures/config/docker-deprecated.yaml: no tasks, so no daemon is waited for."""
    text = f"dockerhost: unix://{tmp_path}/no-such.sock\napi-version: 1.24\n"
    result = _run(tmp_path, "deprecated", text)
    assert result.returncode == 0, result.stderr
    assert "there is no 'tasks' list: nothing will be synced" in result.stderr
    assert "0 task(s)" in result.stderr


def test_base_periodic_config_lands_its_tags(
    busybox: Busybox, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """e2e/base/skopeo.yaml (TestE2ESkopeo: one tick of a task every 30 s): the target
    holds exactly the mapping's tags."""
    src, dst = busybox.registry.host, target_registry.host
    config = tmp_path / "base.yaml"
    config.write_text(
        _head("skopeo", None)
        + "- name: test-skopeo\n  interval: 30\n  verbose: true\n"
        + _locations(src, dst, "skopeo")
        + "  mappings:\n  - from: library/busybox\n    to: base-skopeo/library/busybox\n"
        + "    tags: ['1.29.2', '1.29.3', 'latest']\n"
    )
    daemon = Daemon(config, tmp_path / "dregsy.log")
    try:
        daemon.wait_for("task test-skopeo: 3 copied, 0 skipped, 0 failed", timeout=60)
    finally:
        status = daemon.stop()
    assert status == 0, daemon.text()
    assert _tags(f"{dst}/base-skopeo/library/busybox") == ["1.29.2", "1.29.3", "latest"]
    assert skopeo.digest_of(f"{dst}/base-skopeo/library/busybox:latest") == busybox.latest.digest
