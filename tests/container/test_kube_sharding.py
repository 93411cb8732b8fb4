"""The indexed-job overlay's pods, run from the built image as their pod spec says
(:mod:`tests.support.podrun`): N pods, each with the JOB_COMPLETION_INDEX Kubernetes sets,
together copy the whole source once, digest-equal. The registry names in the rendered
ConfigMap are replaced by loopback registries, and N is made 2 the way the README says to
change it (completions, parallelism and DREGSY_SHARDS together), to start fewer containers.
The StatefulSet's pod template is the same pod spec; its host-name ordinals are tested with
dregsy processes (tests/e2e/test_sharding.py) and its manifest in
tests/integration/test_kube_sharding.py.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.support import kube
from tests.support.bulk import seed_repositories, target_state
from tests.support.dregsy_cli import auth_value
from tests.support.image import REPO_ROOT, BuiltImage, DockerCli
from tests.support.podrun import pod_run
from tests.support.registry import RegistryFactory, RegistryServer
from tests.support.users import ALICE, BOB

pytestmark = [pytest.mark.e2e]

OVERLAYS = REPO_ROOT / "deploy" / "kubernetes" / "overlays"
REPOS = [f"team/svc-{i:02d}" for i in range(12)]
TAGS = ["1.0", "1.1"]


def _pods(source: RegistryServer, target: RegistryServer, tmp_path: Path, n: int) -> list[str]:
    """The `docker run` arguments of the Indexed Job's pod: the test's registries, N = n."""
    objects = kube.render(OVERLAYS / "indexed-job")
    configmap = kube.find(objects, "ConfigMap", "dregsy-config")
    text = configmap["data"]["config.yaml"]
    for old, new in {
        "registry.example.com": source.host,
        "mirror.example.com": target.host,
    }.items():
        assert old in text
        text = text.replace(old, new)
    configmap["data"]["config.yaml"] = text
    objects.append(kube.readme_secret(tmp_path / "secret", auth_value(*ALICE), auth_value(*BOB)))
    job = kube.find(objects, "Job")
    job["spec"]["completions"] = job["spec"]["parallelism"] = n
    (container,) = kube.pod_spec(job)["containers"]
    (shards,) = [e for e in container["env"] if e["name"] == "DREGSY_SHARDS"]
    shards["value"] = str(n)
    kube.validate(job)
    return pod_run(kube.pod_spec(job), "dregsy", objects, tmp_path / "pod").args


def _manifest_puts(target: RegistryServer) -> Counter[str]:
    return Counter(
        f"{e.repository}:{e.reference}"
        for e in target.requests()
        if e.method == "PUT" and e.endpoint == "manifests" and e.status == 201
    )


def _logs(docker: DockerCli, name: str) -> str:
    out = docker.run(["logs", name])
    return out.stdout + out.stderr


def _shares(logs: list[str], n: int) -> list[int]:
    """Each pod's `shard I/N: K of R repositories`, checked to be its own; the K."""
    kept = []
    for i, text in enumerate(logs):
        msgs = [json.loads(line)["msg"] for line in text.splitlines()]  # LOG_FORMAT=json
        (share,) = {m for m in msgs if m.startswith(f"shard {i}/{n}: ")}
        found = re.fullmatch(rf"shard {i}/{n}: (\d+) of {len(REPOS)} repositories", share)
        assert found is not None, share
        kept.append(int(found[1]))
    return kept


@pytest.mark.timeout(900)
def test_indexed_job_pods_together_copy_everything_once(
    docker: DockerCli, dregsy_image: BuiltImage, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory("source"), registry_factory("target")
    expected = {f"mirror/{ref}": d for ref, d in seed_repositories(source, REPOS, TAGS).items()}
    n = 2
    args = _pods(source, target, tmp_path, n)
    names = [f"dregsy-job-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    for i, name in enumerate(names):  # Kubernetes sets the index in each pod
        docker.run(["run", "--detach", "--name", name, "--env", f"JOB_COMPLETION_INDEX={i}", *args])
    logs = []
    for name in names:
        status = docker.run(["wait", name], timeout=300).stdout.strip()
        logs.append(_logs(docker, name))
        docker.run(["rm", name])
        assert status == "0", logs[-1]
    kept = _shares(logs, n)
    assert sum(kept) == len(REPOS)
    assert target_state(target) == expected
    puts = _manifest_puts(target)
    assert set(puts) == set(expected)
    assert set(puts.values()) == {1}
