"""Signatures, SBOMs and attestations travel with the image: distribution 2.8 (no referrers
API), so the fallback tag schema and cosign's tags; every result checked with skopeo or
plain HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.accesslog import AccessLogEntry, count
from tests.support.artifacts import (
    Artifact,
    RawRegistry,
    cosign_signature,
    cosign_tag_signature,
    fallback_tag,
    notation_signature,
    referrers_index,
    spdx_sbom,
    subject_of,
)
from tests.support.dregsy_cli import auth_value, run
from tests.support.oci import OCI_INDEX
from tests.support.referrers_proxy import ReferrersProxy
from tests.support.registry import RegistryFactory, RegistryServer
from tests.support.seed import SeededImages
from tests.support.token_server import TokenServer
from tests.support.users import BOB

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

REPO = "demo/multi"
MIRROR = "mirror/demo/multi"


@dataclass
class Signed:
    """The signed multi-arch image at the source, and what refers to it."""

    index: str  # digest of demo/multi:m1
    child: str  # digest of its linux/amd64 image
    index_sig: Artifact
    sbom: Artifact
    sbom_sig: Artifact
    cosign_sig: Artifact  # under the tag sha256-<index hex>.sig


def _sign(seeded: SeededImages) -> Signed:
    """A cosign signature on the index, an SPDX SBOM on one child, a notation signature
    on the SBOM; fallback indexes for each (as clients write them on a registry without
    the API); and a cosign-style `.sig` tag."""
    raw = RawRegistry(seeded.registry.url)
    index = seeded.index("demo/multi:m1")
    child = index.image_for("linux", "amd64")
    identity = f"{seeded.registry.host}/{REPO}"
    index_sig = cosign_signature(
        subject_of(index.digest, index.manifest_bytes, OCI_INDEX), identity=identity
    )
    sbom = spdx_sbom(subject_of(child.digest, child.manifest_bytes), "demo-multi-amd64")
    sbom_sig = notation_signature(subject_of(sbom.digest, sbom.manifest))
    cosign_sig = cosign_tag_signature(index.digest, identity=identity)
    for item in (index_sig, sbom, sbom_sig):
        raw.push_artifact(REPO, item)
    raw.push_index(REPO, fallback_tag(index.digest), referrers_index([index_sig]))
    raw.push_index(REPO, fallback_tag(child.digest), referrers_index([sbom]))
    raw.push_index(REPO, fallback_tag(sbom.digest), referrers_index([sbom_sig]))
    raw.push_artifact(REPO, cosign_sig, tag=fallback_tag(index.digest) + ".sig")
    return Signed(index.digest, child.digest, index_sig, sbom, sbom_sig, cosign_sig)


def _config(
    tmp_path: Path, source: RegistryServer | ReferrersProxy, target: RegistryServer | ReferrersProxy
) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
tasks:
  - name: signed
    referrers: true        # the default of every mapping of the task
    digest-tags: true
    source: {{registry: {source.host}}}
    target: {{registry: {target.host}}}
    mappings:
      - from: demo/multi
        to: mirror/demo/multi
      - from: demo/app
        to: mirror/demo/app
"""
    )
    return path


def _is_referrer_request(entry: AccessLogEntry) -> bool:
    """A referrers API call, or a look at a fallback tag (`sha256-<hex>`, no suffix)."""
    ref = entry.reference or ""
    return "/referrers/" in entry.path or (ref.startswith("sha256-") and "." not in ref)


def _at_target(target: RegistryServer, item: Artifact) -> None:
    """skopeo reads the referrer at the target by digest, with the source's bytes."""
    raw = skopeo.inspect_raw(f"{target.host}/{MIRROR}@{item.digest}")
    assert raw == item.manifest


def test_signed_multi_arch_image_with_its_referrers(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    source = seeded.registry
    signed = _sign(seeded)
    config = _config(tmp_path, source, target_registry)
    target = RawRegistry(target_registry.url)
    src = RawRegistry(source.url)

    report = tmp_path / "run.json"
    first = run(config, f"-report={report}")
    assert first.returncode == 0, first.stderr
    # the three referrers and cosign's signature tag, counted with their image
    assert "task signed: 3 copied, 0 skipped, 0 failed, 4 referrers copied, " in first.stderr
    doc = json.loads(report.read_text())
    assert doc["tasks"][0]["referrers"] == 4
    by_target = {entry["target"]: entry["referrers"] for entry in doc["images"]}
    assert by_target == {
        f"{target_registry.host}/{MIRROR}:m1": 4,
        f"{target_registry.host}/mirror/demo/app:v1": 0,
        f"{target_registry.host}/mirror/demo/app:v2": 0,
    }
    for item in (signed.index_sig, signed.sbom, signed.sbom_sig):
        _at_target(target_registry, item)
    # the target's fallback indexes list exactly the source's referrers (the same bytes)
    for subject in (signed.index, signed.child, signed.sbom.digest):
        assert target.listed(MIRROR, subject) == src.listed(REPO, subject)
        assert target.get(MIRROR, fallback_tag(subject)) == src.get(REPO, fallback_tag(subject))
    # cosign's tag follows with digest-tags
    sig_tag = f"{fallback_tag(signed.index)}.sig"
    assert (
        skopeo.digest_of(f"{target_registry.host}/{MIRROR}:{sig_tag}") == signed.cosign_sig.digest
    )

    # A second run changes nothing: per image one look at the source's referrers (and one
    # at the target's where the source has some), after one probe of each registry for
    # the referrers API.
    source.clear_requests()
    target_registry.clear_requests()
    second = run(config)
    assert second.returncode == 0, second.stderr
    assert "task signed: 0 copied, 3 skipped, 0 failed, 0 B moved" in second.stderr
    src_log, dst_log = source.requests(), target_registry.requests()
    assert count(dst_log, method="PUT") == 0
    assert count(dst_log, method="POST") == 0
    assert count(src_log, method="GET", endpoint="manifests") == 0
    assert count(src_log, method="GET", endpoint="blobs") == 0
    src_referrers = [e for e in src_log if _is_referrer_request(e)]
    dst_referrers = [e for e in dst_log if _is_referrer_request(e)]
    assert sum("/referrers/" in e.path for e in src_referrers) == 1  # the probe (404)
    assert sum("/referrers/" in e.path for e in dst_referrers) == 1
    assert sorted(e.method for e in src_referrers if "/referrers/" not in e.path) == ["HEAD"] * 3
    assert [e.method for e in dst_referrers if "/referrers/" not in e.path] == ["HEAD"]

    # A signature added at the source to the unchanged image arrives on the next run.
    added = notation_signature(subject_of(signed.index, src.get(REPO, "m1") or b"", OCI_INDEX))
    src.push_artifact(REPO, added)
    src.push_index(REPO, fallback_tag(signed.index), referrers_index([signed.index_sig, added]))
    third = run(config, f"-report={report}")
    assert third.returncode == 0, third.stderr
    assert "task signed: 0 copied, 3 skipped, 0 failed, 1 referrer copied, " in third.stderr
    doc = json.loads(report.read_text())
    assert doc["tasks"][0]["referrers"] == 1
    assert [e["referrers"] for e in doc["images"] if e["target"].endswith(":m1")] == [1]
    _at_target(target_registry, added)
    assert target.listed(MIRROR, signed.index) == [signed.index_sig.digest, added.digest]


def test_an_entry_only_at_the_target_survives_the_merge(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    source = seeded.registry
    signed = _sign(seeded)
    src, target = RawRegistry(source.url), RawRegistry(target_registry.url)
    index_raw = src.get(REPO, "m1") or b""
    # someone signed the mirror's copy of the index before dregsy ran
    theirs = notation_signature(subject_of(signed.index, index_raw, OCI_INDEX))
    target.push_artifact(MIRROR, theirs)
    target.push_index(MIRROR, fallback_tag(signed.index), referrers_index([theirs]))
    config = _config(tmp_path, source, target_registry)

    first = run(config)
    assert first.returncode == 0, first.stderr
    assert target.listed(MIRROR, signed.index) == [theirs.digest, signed.index_sig.digest]
    _at_target(target_registry, signed.index_sig)
    _at_target(target_registry, theirs)

    target_registry.clear_requests()
    second = run(config)
    assert second.returncode == 0, second.stderr
    assert count(target_registry.requests(), method="PUT") == 0
    assert target.listed(MIRROR, signed.index) == [theirs.digest, signed.index_sig.digest]


def test_to_and_from_a_registry_with_the_referrers_api(
    seeded: SeededImages, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    """distribution 2.8 (fallback tags) -> a registry with the API -> distribution 2.8."""
    signed = _sign(seeded)
    middle, last = registry_factory("api-backend"), registry_factory("last")
    with ReferrersProxy(middle.host) as api:
        to_api = _config(tmp_path / "one", seeded.registry, api)
        first = run(to_api)
        assert first.returncode == 0, first.stderr
        # each referrer is at the registry by digest (read from the registry itself)...
        for item in (signed.index_sig, signed.sbom, signed.sbom_sig):
            _at_target(middle, item)
        # ...which lists them through its API (it answered OCI-Subject): no fallback tags
        assert api.referrers(MIRROR, signed.index) == [signed.index_sig.digest]
        assert api.referrers(MIRROR, signed.child) == [signed.sbom.digest]
        assert api.referrers(MIRROR, signed.sbom.digest) == [signed.sbom_sig.digest]
        raw = RawRegistry(middle.url)
        for subject in (signed.index, signed.child, signed.sbom.digest):
            assert raw.get(MIRROR, fallback_tag(subject)) is None

        # and read through the API when it is the source
        config = tmp_path / "two.yaml"
        config.write_text(
            f"""
tasks:
  - name: onwards
    source: {{registry: {api.host}}}
    target: {{registry: {last.host}}}
    mappings:
      - from: {MIRROR}
        to: again
        referrers: true
"""
        )
        api.listings.clear()
        second = run(config)
        assert second.returncode == 0, second.stderr
        assert api.listings, "the source's referrers API was not used"
    last_raw = RawRegistry(last.url)
    assert last_raw.listed("again", signed.index) == [signed.index_sig.digest]
    assert last_raw.listed("again", signed.child) == [signed.sbom.digest]
    assert last_raw.listed("again", signed.sbom.digest) == [signed.sbom_sig.digest]
    for item in (signed.index_sig, signed.sbom, signed.sbom_sig):
        assert skopeo.inspect_raw(f"{last.host}/again@{item.digest}") == item.manifest


def test_referrers_to_a_token_auth_registry(
    seeded: SeededImages,
    registry_factory: RegistryFactory,
    token_server: TokenServer,
    tmp_path: Path,
) -> None:
    """The probe of the referrers route and the fallback tags go through token auth."""
    signed = _sign(seeded)
    target = registry_factory("token-target", auth=token_server.registry_auth())
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: tokens
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target.host}, auth: {auth_value(*BOB)}}}
    mappings:
      - from: {REPO}
        to: {MIRROR}
        referrers: true
"""
    )
    result = run(config)
    assert result.returncode == 0, result.stderr
    assert "1 copied, 0 skipped, 0 failed" in result.stderr
    for item in (signed.index_sig, signed.sbom, signed.sbom_sig):
        raw = skopeo.inspect_raw(f"{target.host}/{MIRROR}@{item.digest}", creds=BOB)
        assert raw == item.manifest
    index = skopeo.inspect_raw(f"{target.host}/{MIRROR}:{fallback_tag(signed.child)}", creds=BOB)
    assert [e["digest"] for e in json.loads(index)["manifests"]] == [signed.sbom.digest]
    again = run(config)
    assert again.returncode == 0, again.stderr
    assert "0 copied, 1 skipped, 0 failed" in again.stderr
