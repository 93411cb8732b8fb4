"""`dregsy -config=...` against real registries, each copy checked with skopeo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.accesslog import count
from tests.support.dregsy_cli import auth_value, run
from tests.support.oci import OciLayout
from tests.support.registry import RegistryFactory, RegistryServer
from tests.support.seed import SeededImages, seed_images
from tests.support.token_server import Scope, TokenServer, default_policy
from tests.support.users import ALICE, BOB, TEST_USERS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _assert_mirrored(
    seeded: SeededImages, target: RegistryServer, prefix: str = "mirror/", **kw: object
) -> None:
    """Every seeded tag is at the target under `prefix`, with the source's digest."""
    for ref, digest in seeded.digests.items():
        assert skopeo.digest_of(f"{target.host}/{prefix}{ref}", **kw) == digest, ref  # type: ignore[arg-type]


def test_one_off_copies_everything_then_skips(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    source = seeded.registry
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: mirror
    source:
      registry: {source.host}
    target:
      registry: {target_registry.host}
    mappings:
      - from: demo/app
        to: mirror/demo/app
      - from: demo/multi
        to: mirror/demo/multi
""",
    )
    target_registry.clear_requests()
    first = run(config)
    assert first.returncode == 0, first.stderr
    assert "task mirror: 3 copied, 0 skipped, 0 failed" in first.stderr
    _assert_mirrored(seeded, target_registry)
    # new repositories: one tag list each tells there is nothing to check blob by blob
    first_log = target_registry.requests()
    assert count(first_log, method="GET", endpoint="tags") == 2
    assert count(first_log, method="HEAD", endpoint="blobs") == 0
    assert count(first_log, method="HEAD", endpoint="manifests") == 3  # the tags only
    # the index's platform manifests are there too, by digest
    for child in seeded.index("demo/multi:m1").images:
        ref = f"{target_registry.host}/mirror/demo/multi@{child.digest}"
        assert skopeo.digest_of(ref) == child.digest

    source.clear_requests()
    target_registry.clear_requests()
    second = run(config)
    assert second.returncode == 0, second.stderr
    assert "task mirror: 0 copied, 3 skipped, 0 failed" in second.stderr
    src_log, dst_log = source.requests(), target_registry.requests()
    assert count(src_log, method="GET", endpoint="manifests") == 0
    assert count(src_log, method="GET", endpoint="blobs") == 0
    assert count(dst_log, method="PUT") == 0
    assert count(dst_log, method="POST") == 0
    assert count(src_log, method="HEAD", endpoint="manifests") == 3
    assert count(dst_log, method="GET", endpoint="tags") == 0  # unchanged tags never ask


def test_listed_tags_and_default_target_path(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: some-tags
    source: {{registry: "http://{seeded.registry.host}"}}
    target: {{registry: "http://{target_registry.host}"}}
    mappings:
      - from: demo/app
        tags: ['v2']
""",
    )
    result = run(config)
    assert result.returncode == 0, result.stderr
    assert skopeo.list_tags(f"{target_registry.host}/demo/app") == ["v2"]
    assert skopeo.digest_of(f"{target_registry.host}/demo/app:v2") == seeded.digest("demo/app:v2")


def test_basic_auth_on_both_sides_and_no_secret_in_logs(
    registry_factory: RegistryFactory, htpasswd_registry: RegistryServer, tmp_path: Path
) -> None:
    from tests.support.registry import HtpasswdAuth
    from tests.support.users import TEST_USERS

    target = registry_factory("htpasswd-target", auth=HtpasswdAuth(TEST_USERS))
    seeded = seed_images(htpasswd_registry, tmp_path / "layout", creds=ALICE)
    source_auth, target_auth = auth_value(*ALICE), auth_value(*BOB)
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: basic
    verbose: true
    source: {{registry: {htpasswd_registry.host}, auth: {source_auth}}}
    target: {{registry: {target.host}, auth: {target_auth}}}
    mappings:
      - from: demo/app
        to: mirror/demo/app
      - from: demo/multi
        to: mirror/demo/multi
""",
    )
    result = run(config, env={"LOG_LEVEL": "debug"})
    assert result.returncode == 0, result.stderr
    _assert_mirrored(seeded, target, creds=BOB)
    output = result.stdout + result.stderr
    for secret in (ALICE[1], BOB[1], source_auth, target_auth):
        assert secret not in output


def test_token_auth_scopes(
    registry_factory: RegistryFactory,
    token_registry: RegistryServer,
    token_server: TokenServer,
    tmp_path: Path,
) -> None:
    target = registry_factory("token-target", auth=token_server.registry_auth())
    seeded = seed_images(token_registry, tmp_path / "layout", creds=ALICE)
    token_server.clear_requests()
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: tokens
    source: {{registry: {token_registry.host}, auth: {auth_value(*ALICE)}}}
    target: {{registry: {target.host}, auth: {auth_value(*BOB)}}}
    mappings:
      - from: demo/multi
        to: mirror/demo/multi
""",
    )
    result = run(config)
    assert result.returncode == 0, result.stderr
    ref = f"{target.host}/mirror/demo/multi:m1"
    assert skopeo.digest_of(ref, creds=BOB) == seeded.digest("demo/multi:m1")
    scopes = {(r.user, scope) for r in token_server.requests for scope in r.scopes}
    assert ("alice", "repository:demo/multi:pull") in scopes
    assert ("bob", "repository:mirror/demo/multi:pull,push") in scopes
    assert not [s for user, s in scopes if user == "alice" and "push" in s]
    # tokens are reused: a handful of token requests, not one per blob
    assert len(token_server.requests) <= 4


def test_same_registry_copy_mounts_blobs(seeded: SeededImages, tmp_path: Path) -> None:
    registry = seeded.registry
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: within
    source: {{registry: {registry.host}}}
    target: {{registry: {registry.host}}}
    mappings:
      - from: demo/app
        to: copies/app
""",
    )
    registry.clear_requests()
    result = run(config)
    assert result.returncode == 0, result.stderr
    log = registry.requests()
    assert count(log, method="POST", endpoint="uploads", status=201) == 6  # 2 tags x 3 blobs
    assert count(log, method="GET", endpoint="blobs") == 0
    for tag in ("v1", "v2"):
        digest = seeded.digest(f"demo/app:{tag}")
        assert skopeo.digest_of(f"{registry.host}/copies/app:{tag}") == digest


def test_token_mount_asks_pull_on_the_mount_source(
    token_registry: RegistryServer, token_server: TokenServer, tmp_path: Path
) -> None:
    seeded = seed_images(token_registry, tmp_path / "layout", creds=ALICE)
    token_server.clear_requests()
    token_registry.clear_requests()
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: within
    source: {{registry: {token_registry.host}, auth: {auth_value(*ALICE)}}}
    target: {{registry: {token_registry.host}, auth: {auth_value(*ALICE)}}}
    mappings:
      - from: demo/app
        to: copies/app
        tags: [v1]
""",
    )
    result = run(config)
    assert result.returncode == 0, result.stderr
    mount_requests = [
        r.scopes
        for r in token_server.requests
        if "repository:demo/app:pull" in r.scopes and "repository:copies/app:pull,push" in r.scopes
    ]
    assert mount_requests, token_server.requests
    assert count(token_registry.requests(), method="POST", endpoint="uploads", status=201) == 3
    digest = seeded.digest("demo/app:v1")
    assert skopeo.digest_of(f"{token_registry.host}/copies/app:v1", creds=ALICE) == digest


def test_a_blob_shared_by_images_is_uploaded_once(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    images = [layout.add_image(f"t{i}", layer_sizes=(64 * 1024,), seed=7) for i in range(4)]
    shared = images[0].layer_digests[0]
    assert all(image.layer_digests == (shared,) for image in images)
    for image in images:
        assert image.tag is not None
        skopeo.push(
            tmp_path / "layout", image.tag, f"{source_registry.host}/demo/shared:{image.tag}"
        )
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: shared
    source: {{registry: {source_registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings: [{{from: demo/shared}}]
""",
    )
    target_registry.clear_requests()
    result = run(config)
    assert result.returncode == 0, result.stderr
    uploads = [
        e for e in target_registry.requests() if e.method == "PUT" and e.endpoint == "uploads"
    ]
    committed = [e.query for e in uploads if shared.split(":")[1] in e.query]
    assert len(committed) == 1  # four images, one upload of their common layer
    assert len(uploads) == 5  # that layer and the four configs
    for image in images:
        ref = f"{target_registry.host}/demo/shared:{image.tag}"
        assert skopeo.digest_of(ref) == image.digest

    # A new tag in a repository the target has: its blobs are checked, the shared layer
    # found there and not uploaded again.
    extra = layout.add_image("t9", layer_sizes=(64 * 1024,), seed=7)
    assert extra.layer_digests == (shared,)
    skopeo.push(tmp_path / "layout", "t9", f"{source_registry.host}/demo/shared:t9")
    target_registry.clear_requests()
    again = run(config)
    assert again.returncode == 0, again.stderr
    assert "task shared: 1 copied, 4 skipped, 0 failed" in again.stderr
    log = target_registry.requests()
    assert count(log, method="HEAD", endpoint="blobs") == 2  # the layer and the config
    uploads = [e for e in log if e.method == "PUT" and e.endpoint == "uploads"]
    assert len(uploads) == 1  # the new config only
    assert shared.split(":")[1] not in uploads[0].query
    assert skopeo.digest_of(f"{target_registry.host}/demo/shared:t9") == extra.digest


def test_same_registry_without_mount_rights_streams_without_deadlock(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    def bob_cannot_read_demo(user: str | None, scope: Scope) -> frozenset[str]:
        granted = default_policy(user, scope)
        if user == "bob" and scope.name.startswith("demo/"):
            return frozenset()
        return granted

    with TokenServer(tmp_path / "token", users=TEST_USERS, policy=bob_cannot_read_demo) as tokens:
        registry = registry_factory("one", auth=tokens.registry_auth())
        seeded = seed_images(registry, tmp_path / "layout", creds=ALICE)
        config = _write(
            tmp_path / "config.yaml",
            f"""
parallel: 4
tasks:
  - name: no-mount
    source: {{registry: {registry.host}, auth: {auth_value(*ALICE)}, max-connections: 1}}
    target: {{registry: {registry.host}, auth: {auth_value(*BOB)}, max-connections: 1}}
    mappings:
      - from: demo/app
        to: copies/app
""",
        )
        registry.clear_requests()
        result = run(config, timeout=60)
        assert result.returncode == 0, result.stderr
        log = registry.requests()
        assert count(log, method="GET", endpoint="blobs") > 0  # streamed, not mounted
        assert count(log, method="POST", endpoint="uploads", status=201) == 0
        for tag in ("v1", "v2"):
            ref = f"{registry.host}/copies/app:{tag}"
            assert skopeo.digest_of(ref, creds=BOB) == seeded.digest(f"demo/app:{tag}")
