"""Smoke tests of the test-support layer against the real registry, skopeo and PKI."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import ssl
import tarfile
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.accesslog import count, parse_line
from tests.support.certs import Pki, docker_certs_dir
from tests.support.http_check import ChallengeAuth, http_get_manifest, http_manifest_digest
from tests.support.oci import OCI_INDEX, OCI_MANIFEST, REF_NAME, OciLayout, sha256_digest
from tests.support.procs import ProcessError, require_binary
from tests.support.registry import RegistryFactory, RegistryServer
from tests.support.seed import SeededImages, seed_images
from tests.support.skopeo import SkopeoError, digest_of, inspect_raw, list_tags, push
from tests.support.token_server import Scope, TokenServer, deny_push_policy
from tests.support.users import ALICE, BOB, TEST_USERS

pytestmark = pytest.mark.integration

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


# -- plain registry, seeding, digests ---------------------------------------------------


def test_seeded_digests_equal_layout_digests(seeded: SeededImages) -> None:
    registry = seeded.registry
    assert seeded.repositories == ["demo/app", "demo/multi"]
    for ref, expected in seeded.digests.items():
        repo, tag = ref.rsplit(":", 1)
        assert digest_of(f"{registry.host}/{ref}") == expected
        assert http_manifest_digest(registry.url, repo, tag) == expected
    assert len(set(seeded.digests.values())) == 3


def test_seeded_index_is_stored_byte_for_byte(seeded: SeededImages) -> None:
    registry = seeded.registry
    index = seeded.index("demo/multi:m1")
    raw = inspect_raw(f"{registry.host}/demo/multi:m1")
    assert raw == index.manifest_bytes
    served = http_get_manifest(registry.url, "demo/multi", "m1")
    assert served is not None
    assert served.media_type == OCI_INDEX
    assert served.content == index.manifest_bytes
    assert [image.platform for image in index.images] == [("linux", "amd64"), ("linux", "arm64")]
    for child in index.images:
        assert http_manifest_digest(registry.url, "demo/multi", child.digest) == child.digest
    app = http_get_manifest(registry.url, "demo/app", "v1")
    assert app is not None
    assert app.media_type == OCI_MANIFEST
    assert app.content == seeded.image("demo/app:v1").manifest_bytes


def test_list_tags_and_missing_manifest(seeded: SeededImages) -> None:
    registry = seeded.registry
    assert sorted(list_tags(f"{registry.host}/demo/app")) == ["v1", "v2"]
    assert seeded.tags("demo/app") == ["v1", "v2"]
    assert http_manifest_digest(registry.url, "demo/app", "nope") is None
    with pytest.raises(SkopeoError, match="manifest unknown"):
        inspect_raw(f"{registry.host}/demo/app:nope")


@pytest.mark.usefixtures("skopeo")
def test_push_without_all_keeps_only_the_host_platform(
    source_registry: RegistryServer, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    index = layout.add_index("multi", [("linux", "amd64"), ("linux", "arm64", "v8")])
    push(layout.path, "multi", f"{source_registry.host}/x/multi:m", all_platforms=False)
    pushed = http_manifest_digest(source_registry.url, "x/multi", "m")
    assert pushed == index.image_for("linux", HOST_ARCH).digest
    assert pushed != index.digest


# -- access log -------------------------------------------------------------------------


def test_access_log_counts_pushes_and_pulls(seeded: SeededImages) -> None:
    registry = seeded.registry
    entries = registry.requests()
    assert count(entries, method="PUT", endpoint="manifests", repository="demo/app") == 2
    multi_puts = {
        e.reference
        for e in entries
        if e.method == "PUT" and e.endpoint == "manifests" and e.repository == "demo/multi"
    }
    index = seeded.index("demo/multi:m1")
    assert multi_puts == {"m1", *(image.digest for image in index.images)}
    # Every blob of demo/app (2 configs + 4 layers) was committed once with PUT ?digest=.
    assert count(entries, method="PUT", endpoint="uploads", repository="demo/app", status=201) == 6
    assert all(e.user_agent.startswith("skopeo/") for e in entries)

    registry.clear_requests()
    assert registry.requests() == []
    inspect_raw(f"{registry.host}/demo/app:v1")
    entries = registry.requests()
    assert count(entries, method="GET", endpoint="manifests", repository="demo/app") == 1
    assert count(entries, method="PUT") == 0
    manifest_get = next(e for e in entries if e.endpoint == "manifests")
    assert manifest_get.reference == "v1"
    assert manifest_get.status == 200


def test_access_log_line_parsing() -> None:
    line = (
        '127.0.0.1 - - [29/Nov/2026:04:07:02 +0000] "POST /v2/other/app/blobs/uploads/'
        '?from=demo%2Fapp&mount=sha256%3A6461 HTTP/1.1" 201 0 "" "skopeo/1.9.3"'
    )
    entry = parse_line(line)
    assert entry is not None
    assert (entry.method, entry.path, entry.status) == ("POST", "/v2/other/app/blobs/uploads/", 201)
    assert entry.query == "from=demo%2Fapp&mount=sha256%3A6461"
    assert (entry.endpoint, entry.repository, entry.reference) == ("uploads", "other/app", None)
    assert entry.user_agent == "skopeo/1.9.3"
    tags = parse_line('1.2.3.4 - - [x] "GET /v2/a/b/c/tags/list?n=2 HTTP/1.1" 401 9 "" "ua"')
    assert tags is not None
    assert (tags.endpoint, tags.repository, tags.is_challenge) == ("tags", "a/b/c", True)
    assert parse_line("time=... level=info msg=hello") is None


# -- htpasswd ---------------------------------------------------------------------------


@pytest.mark.usefixtures("skopeo")
def test_htpasswd_registry_requires_credentials(
    htpasswd_registry: RegistryServer, tmp_path: Path
) -> None:
    registry = htpasswd_registry
    lines = registry.htpasswd_path.read_text().splitlines()
    assert sorted(line.split(":", 1)[0] for line in lines) == ["alice", "bob"]
    assert all(line.split(":", 1)[1].startswith("$2b$04$") for line in lines)

    seeded = seed_images(registry, tmp_path / "layout", creds=ALICE)
    ref = f"{registry.host}/demo/app:v1"
    assert digest_of(ref, creds=BOB) == seeded.digest("demo/app:v1")
    with pytest.raises(SkopeoError, match="authentication required"):
        inspect_raw(ref)
    with pytest.raises(SkopeoError, match="authentication required"):
        inspect_raw(ref, creds=("alice", "wrong"))

    assert http_manifest_digest(registry.url, "demo/app", "v1", auth=ALICE) == seeded.digest(
        "demo/app:v1"
    )
    with pytest.raises(httpx.HTTPStatusError) as refused:
        http_manifest_digest(registry.url, "demo/app", "v1")
    assert refused.value.response.status_code == 401
    challenges = count(registry.requests(), status=401, include_challenges=True)
    assert challenges >= 3


# -- TLS --------------------------------------------------------------------------------


def test_tls_registry_needs_the_ca(tls_registry: RegistryServer, ca: Pki) -> None:
    assert tls_registry.url.startswith("https://127.0.0.1:")
    response = httpx.get(f"{tls_registry.url}/v2/", verify=ca.ssl_context())
    assert response.status_code == 200
    assert response.json() == {}
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_registry.url}/v2/", verify=ssl.create_default_context())
    plain = httpx.get(f"http://{tls_registry.host}/v2/")
    assert plain.status_code == 400
    # The certificate also names localhost.
    assert httpx.get(
        f"https://localhost:{tls_registry.port}/v2/", verify=ca.ssl_context()
    ).is_success


@pytest.mark.usefixtures("skopeo")
def test_skopeo_verifies_tls_with_a_cert_dir(
    tls_registry: RegistryServer, ca: Pki, tmp_path: Path
) -> None:
    cert_dir = docker_certs_dir(tmp_path / "certs.d", tls_registry.host, ca.ca_path)
    assert cert_dir == tmp_path / "certs.d" / tls_registry.host
    assert (cert_dir / "ca.crt").read_bytes() == ca.ca_path.read_bytes()
    seeded = seed_images(tls_registry, tmp_path / "layout", cert_dir=cert_dir)
    ref = f"{tls_registry.host}/demo/multi:m1"
    assert digest_of(ref, tls_verify=True, cert_dir=cert_dir) == seeded.digest("demo/multi:m1")
    with pytest.raises(SkopeoError, match="certificate signed by unknown authority"):
        inspect_raw(ref, tls_verify=True)


@pytest.mark.usefixtures("skopeo")
def test_mutual_tls_registry(registry_factory: RegistryFactory, ca: Pki, tmp_path: Path) -> None:
    client = ca.client_pair(tmp_path / "client")
    registry = registry_factory(
        "mtls",
        tls=(ca.server.cert_path, ca.server.key_path),
        ca=ca.ca_path,
        client_ca=ca.ca_path,
        client_cert=(client.cert_path, client.key_path),
    )
    with_client = ca.ssl_context()
    with_client.load_cert_chain(client.cert_path, client.key_path)
    assert httpx.get(f"{registry.url}/v2/", verify=with_client).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{registry.url}/v2/", verify=ca.ssl_context())

    cert_dir = docker_certs_dir(tmp_path / "certs.d", registry.host, ca.ca_path, client)
    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.crt", "client.cert", "client.key"]
    seeded = seed_images(registry, tmp_path / "layout", cert_dir=cert_dir)
    assert http_manifest_digest(
        registry.url, "demo/app", "v2", verify=with_client
    ) == seeded.digest("demo/app:v2")


# -- token auth -------------------------------------------------------------------------


@pytest.mark.usefixtures("skopeo")
def test_token_registry_push_and_pull_scopes(
    token_registry: RegistryServer, token_server: TokenServer, tmp_path: Path
) -> None:
    seeded = seed_images(token_registry, tmp_path / "layout", creds=ALICE)
    pushes = [r for r in token_server.requests if "repository:demo/app:pull,push" in r.scopes]
    assert pushes
    assert all(r.user == "alice" and r.status == 200 for r in pushes)
    assert pushes[0].service == "test-registry"
    assert pushes[0].granted_actions("demo/app") == {"pull", "push"}

    token_server.clear_requests()
    ref = f"{token_registry.host}/demo/app:v1"
    assert digest_of(ref, creds=BOB) == seeded.digest("demo/app:v1")
    pulls = token_server.requests
    assert pulls
    assert {s for r in pulls for s in r.scopes} == {"repository:demo/app:pull"}
    assert {r.user for r in pulls} == {"bob"}

    token_server.clear_requests()
    with pytest.raises(SkopeoError, match="authentication required"):
        inspect_raw(ref)
    assert token_server.requests
    assert all(r.user is None and r.granted == [] for r in token_server.requests)
    with pytest.raises(SkopeoError):
        inspect_raw(ref, creds=("alice", "wrong"))
    assert token_server.requests[-1].status == 401

    digest = http_manifest_digest(token_registry.url, "demo/app", "v2", auth=ALICE)
    assert digest == seeded.digest("demo/app:v2")


@pytest.mark.usefixtures("skopeo")
def test_token_policy_can_deny_push(registry_factory: RegistryFactory, tmp_path: Path) -> None:
    with TokenServer(
        tmp_path / "token", users=TEST_USERS, policy=deny_push_policy("demo/app")
    ) as tokens:
        registry = registry_factory("token", auth=tokens.registry_auth())
        layout = OciLayout(tmp_path / "layout")
        layout.add_image("v1")
        with pytest.raises(SkopeoError, match="denied"):
            push(layout.path, "v1", f"{registry.host}/demo/app:v1", creds=ALICE)
        push(layout.path, "v1", f"{registry.host}/demo/other:v1", creds=ALICE)
        denied = [r for r in tokens.requests if "repository:demo/app:pull,push" in r.scopes]
        assert denied
        assert all(r.granted_actions("demo/app") == {"pull"} for r in denied)


@pytest.mark.usefixtures("skopeo")
def test_token_anonymous_pull_but_no_anonymous_push(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    with TokenServer(tmp_path / "token", users=TEST_USERS, allow_anonymous_pull=True) as tokens:
        registry = registry_factory("token", auth=tokens.registry_auth())
        seeded = seed_images(registry, tmp_path / "layout", creds=ALICE)
        ref = f"{registry.host}/demo/multi:m1"
        assert digest_of(ref) == seeded.digest("demo/multi:m1")
        assert http_manifest_digest(registry.url, "demo/multi", "m1") == seeded.digest(
            "demo/multi:m1"
        )
        with pytest.raises(SkopeoError, match="denied"):
            push(seeded.layout.path, "app-v1", f"{registry.host}/anon/app:v1")


def test_token_server_tokens(token_server: TokenServer) -> None:
    scopes = [
        "repository:demo/app:pull,push",
        "repository:demo/app:pull,push",
        "repository:127.0.0.1:5000/x:pull registry:catalog:*",
    ]
    response = httpx.get(
        token_server.realm,
        params=[("service", "test-registry"), *(("scope", s) for s in scopes)],
        auth=ALICE,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"].endswith("Z")
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "RS256"
    assert len(header["x5c"]) == 1
    claims = jwt.decode(
        body["token"],
        token_server.public_key,
        algorithms=["RS256"],
        audience="test-registry",
        issuer="test-issuer",
    )
    assert isinstance(claims["aud"], str)
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 300
    assert sorted(claims["access"], key=lambda a: (a["type"], a["name"])) == [
        {"type": "registry", "name": "catalog", "actions": ["*"]},
        {"type": "repository", "name": "127.0.0.1:5000/x", "actions": ["pull"]},
        {"type": "repository", "name": "demo/app", "actions": ["pull", "push"]},
    ]
    recorded = token_server.requests[-1]
    assert recorded.user == "alice"
    assert recorded.scopes == [
        *scopes[:2],
        "repository:127.0.0.1:5000/x:pull",
        "registry:catalog:*",
    ]

    assert httpx.get(token_server.realm, auth=("alice", "nope")).status_code == 401
    assert httpx.get(token_server.realm, params={"service": "other"}).status_code == 400
    anonymous = httpx.get(token_server.realm, params={"scope": "repository:demo/app:pull"})
    assert anonymous.status_code == 200
    assert token_server.requests[-1].granted == []
    assert Scope.parse("repository:127.0.0.1:5000/x:pull,push") == Scope(
        "repository", "127.0.0.1:5000/x", frozenset({"pull", "push"})
    )
    assert Scope.parse("repository:demo/app") is None
    assert Scope.parse("nonsense") is None


def test_token_server_oauth_password_grant(token_server: TokenServer) -> None:
    form = {
        "grant_type": "password",
        "username": "bob",
        "password": "secret2",
        "service": "test-registry",
        "scope": "repository:demo/app:pull repository:demo/other:pull,push",
        "client_id": "dregsy-test",
    }
    response = httpx.post(token_server.realm, data=form)
    assert response.status_code == 200
    claims = jwt.decode(
        response.json()["access_token"],
        token_server.public_key,
        algorithms=["RS256"],
        audience="test-registry",
    )
    assert claims["sub"] == "bob"
    assert [a["name"] for a in claims["access"]] == ["demo/app", "demo/other"]
    recorded = token_server.requests[-1]
    assert (recorded.method, recorded.user) == ("POST", "bob")
    assert recorded.scopes == ["repository:demo/app:pull", "repository:demo/other:pull,push"]
    assert httpx.post(token_server.realm, data={**form, "password": "x"}).status_code == 401
    refresh = httpx.post(token_server.realm, data={**form, "grant_type": "refresh_token"})
    assert refresh.status_code == 400


@pytest.mark.usefixtures("skopeo")
def test_token_registry_catalog(
    token_registry: RegistryServer, token_server: TokenServer, tmp_path: Path
) -> None:
    seed_images(token_registry, tmp_path / "layout", creds=ALICE)
    with httpx.Client(auth=ChallengeAuth(BOB)) as client:
        response = client.get(f"{token_registry.url}/v2/_catalog")
    assert response.status_code == 200
    assert response.json() == {"repositories": ["demo/app", "demo/multi"]}
    assert token_server.requests[-1].scopes == ["registry:catalog:*"]


# -- OCI layouts ------------------------------------------------------------------------


def test_oci_layout_files(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "layout")
    image = layout.add_image("one", layer_sizes=(100, 5000), seed=7, label="x")
    index = layout.add_index("many", seed=8)
    assert json.loads((layout.path / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    descriptors = json.loads((layout.path / "index.json").read_bytes())["manifests"]
    assert [d["annotations"][REF_NAME] for d in descriptors] == ["one", "many"]
    assert [d["digest"] for d in descriptors] == [image.digest, index.digest]
    assert [d["mediaType"] for d in descriptors] == [OCI_MANIFEST, OCI_INDEX]
    for digest in (image.digest, index.digest, *image.blob_digests):
        assert sha256_digest(layout.blob_path(digest).read_bytes()) == digest
    manifest = json.loads(image.manifest_bytes)
    assert [layer["size"] for layer in manifest["layers"]] == list(image.layer_sizes)
    config = json.loads(image.config_bytes)
    assert config["config"]["Labels"] == {"org.dregsy.test.id": "x"}
    assert config["rootfs"]["diff_ids"] == list(image.diff_ids)
    assert (config["os"], config["architecture"]) == ("linux", "amd64")

    blob = layout.blob_path(image.layer_digests[1]).read_bytes()
    assert blob[4:8] == b"\0\0\0\0"  # gzip mtime
    raw = gzip.decompress(blob)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.diff_ids[1]
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        (member,) = tar.getmembers()
        assert (member.size, member.mode, member.mtime) == (5000, 0o644, 0)

    children = json.loads(index.manifest_bytes)["manifests"]
    assert [d["platform"] for d in children] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64"},
    ]
    assert [d["digest"] for d in children] == [child.digest for child in index.images]
    assert [json.loads(child.config_bytes)["architecture"] for child in index.images] == [
        "amd64",
        "arm64",
    ]
    assert set(index.images[0].layer_digests).isdisjoint(index.images[1].layer_digests)

    again = OciLayout(tmp_path / "other").add_image("one", layer_sizes=(100, 5000), seed=7)
    assert again.layer_digests == image.layer_digests
    assert again.config_digest != image.config_digest
    assert OciLayout(layout.path).tags == ["one", "many"]


# -- processes --------------------------------------------------------------------------


def test_require_binary_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_binary("docker-registry").endswith("docker-registry")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_binary("no-such-binary-dregsy")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-binary-dregsy"):
        require_binary("no-such-binary-dregsy")


def test_registry_that_dies_fails_fast_with_its_log(registry_binary: str, tmp_path: Path) -> None:
    registry = RegistryServer(
        tmp_path / "broken",
        tls=(tmp_path / "missing.crt", tmp_path / "missing.key"),
    )
    started = time.monotonic()
    with pytest.raises(ProcessError, match=r"exited with status \d+") as failure:
        registry.start()
    assert time.monotonic() - started < 5
    assert "missing.crt" in str(failure.value)
    assert registry.process.returncode not in (None, 0)


def test_registry_starts_fast_and_stops(registry_factory: RegistryFactory) -> None:
    started = time.monotonic()
    registry = registry_factory("fast")
    elapsed = time.monotonic() - started
    assert elapsed < 2, elapsed
    assert httpx.get(f"{registry.url}/v2/").json() == {}
    assert registry.config()["http"]["addr"] == "127.0.0.1:0"
    registry.stop()
    assert registry.process.returncode is not None
    assert [(e.method, e.path, e.status) for e in registry.requests()] == [("GET", "/v2/", 200)]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{registry.url}/v2/")
