"""The sharding overlays (deploy/kubernetes/overlays/{sharded-statefulset,indexed-job}),
checked as the other manifests are (tests/container/test_kubernetes.py): rendered with
`kubectl kustomize` and every object validated strictly against the Kubernetes API schema
(kubernetes-validate, offline: an unknown field is an error). Then N is the same everywhere,
and the environment each pod gets gives dregsy that pod's shard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dregsy.config.load import parse_config
from dregsy.shard import Shard, shard_from
from tests.support import kube

OVERLAYS = Path(__file__).parents[2] / "deploy" / "kubernetes" / "overlays"

Obj = dict[str, Any]


def _container_env(pod: Obj) -> dict[str, str]:
    (container,) = pod["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _config(objects: list[Obj], tmp_path: Path) -> Any:
    """The rendered ConfigMap's config as dregsy parses it (the Secret's file stubbed)."""
    text = kube.find(objects, "ConfigMap", "dregsy-config")["data"]["config.yaml"]
    secret = tmp_path / "source-auth"
    secret.write_text("none\n")
    text = text.replace("/secrets/source-auth", str(secret))
    return parse_config(text, base_dir=tmp_path, env={"TARGET_AUTH": "none"})


@pytest.mark.parametrize(
    ("overlay", "workload"), [("sharded-statefulset", "StatefulSet"), ("indexed-job", "Job")]
)
def test_renders_and_validates_against_the_kubernetes_schema(overlay: str, workload: str) -> None:
    objects = kube.render(OVERLAYS / overlay)
    kinds = sorted(obj["kind"] for obj in objects)
    assert workload in kinds
    assert "Deployment" not in kinds  # the base's single replica is replaced
    for obj in objects:
        kube.validate(obj)
    pod = kube.pod_spec(kube.find(objects, workload))
    assert pod["automountServiceAccountToken"] is False
    (dregsy,) = pod["containers"]
    security = {**pod["securityContext"], **dregsy["securityContext"]}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert dregsy["args"][0] == "-config=/config/config.yaml"  # StatefulSet: and -listen


def test_schema_validation_rejects_a_misspelt_field() -> None:
    """The check above can fail: a misspelt field of the Indexed Job is an error."""
    job = kube.find(kube.render(OVERLAYS / "indexed-job"), "Job")
    job["spec"]["backoffLimitPerIndx"] = 2
    with pytest.raises(AssertionError, match="backoffLimitPerIndx"):
        kube.validate(job)


def test_statefulset_pods_each_get_their_shard(tmp_path: Path) -> None:
    objects = kube.render(OVERLAYS / "sharded-statefulset")
    statefulset = kube.find(objects, "StatefulSet")
    spec = statefulset["spec"]
    replicas = spec["replicas"]
    env = _container_env(spec["template"]["spec"])
    assert env["DREGSY_SHARDS"] == str(replicas)
    assert spec["serviceName"] == kube.find(objects, "Service")["metadata"]["name"]
    assert spec["podManagementPolicy"] == "Parallel"
    # Each replica serves its endpoint as the base's pod does: probes and scrape annotations.
    (container,) = spec["template"]["spec"]["containers"]
    assert "-listen=:9090" in container["args"]
    assert container["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9090"
    name = statefulset["metadata"]["name"]
    # A pod's host name is its name: <statefulset>-<ordinal>.
    shards = {shard_from(None, env, f"{name}-{ordinal}") for ordinal in range(replicas)}
    assert shards == {Shard(i, replicas) for i in range(replicas)}
    config = _config(objects, tmp_path)
    assert all(task.interval for task in config.tasks)  # periodic: the pods keep running
    assert any(m.repos is not None for task in config.tasks for m in task.mappings)


def test_indexed_job_pods_each_get_their_shard(tmp_path: Path) -> None:
    objects = kube.render(OVERLAYS / "indexed-job")
    spec = kube.find(objects, "Job")["spec"]
    n = spec["completions"]
    assert spec["completionMode"] == "Indexed"
    assert spec["parallelism"] == n
    assert spec["backoffLimitPerIndex"] >= 1
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # backoffLimitPerIndex needs it
    env = _container_env(pod)
    assert env["DREGSY_SHARDS"] == str(n)
    # Kubernetes sets JOB_COMPLETION_INDEX in each pod of an Indexed Job.
    shards = {shard_from(None, {**env, "JOB_COMPLETION_INDEX": str(i)}, "x") for i in range(n)}
    assert shards == {Shard(i, n) for i in range(n)}
    config = _config(objects, tmp_path)
    assert not any(task.interval for task in config.tasks)  # one-off: the pods end
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailIndex"
    assert rule["onExitCodes"]["values"] == [2]  # a config error is not retried
