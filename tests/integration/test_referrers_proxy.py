"""The test registry with the referrers API (a proxy in front of distribution 2.8) does
what the OCI distribution spec asks, checked with plain HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.artifacts import (
    SPDX_JSON,
    RawRegistry,
    notation_signature,
    spdx_sbom,
    subject_of,
)
from tests.support.oci import OCI_INDEX
from tests.support.referrers_proxy import ReferrersProxy
from tests.support.registry import RegistryServer

SUBJECT = "sha256:" + "5" * 64


@pytest.mark.usefixtures("registry_binary")
def test_referrers_api_in_front_of_a_real_registry(source_registry: RegistryServer) -> None:
    with ReferrersProxy(source_registry.host) as proxy:
        base = f"http://{proxy.host}"
        raw = RawRegistry(base)
        with httpx.Client(base_url=base) as client:
            # an unknown subject has an empty list, never a 404
            empty = client.get(f"/v2/demo/app/referrers/{SUBJECT}")
            assert empty.status_code == 200
            assert empty.headers["content-type"] == OCI_INDEX
            assert empty.json()["manifests"] == []

            subject = subject_of(SUBJECT, b"x" * 10)
            sbom, sig = spdx_sbom(subject, "app"), notation_signature(subject)
            for item in (sbom, sig):
                for data in item.blobs.values():
                    raw.push_blob("demo/app", data)
                headers = raw.push_manifest("demo/app", item.digest, item.manifest)
                assert headers["OCI-Subject"] == SUBJECT  # the subject need not exist
            listed = client.get(f"/v2/demo/app/referrers/{SUBJECT}").json()["manifests"]
            assert listed == [sbom.descriptor, sig.descriptor]

            only = client.get(
                f"/v2/demo/app/referrers/{SUBJECT}", params={"artifactType": SPDX_JSON}
            )
            assert only.headers["OCI-Filters-Applied"] == "artifactType"
            assert [e["digest"] for e in only.json()["manifests"]] == [sbom.digest]
    # what the proxy passed on is in the registry itself
    stored = RawRegistry(source_registry.url).get("demo/app", sbom.digest)
    assert stored == sbom.manifest
    assert json.loads(stored)["subject"]["digest"] == SUBJECT


@pytest.mark.usefixtures("registry_binary")
def test_distribution_has_no_referrers_api(source_registry: RegistryServer) -> None:
    """Why the proxy exists: distribution 2.8 answers the route with 404."""
    response = httpx.get(f"{source_registry.url}/v2/demo/app/referrers/{SUBJECT}")
    assert response.status_code == 404
