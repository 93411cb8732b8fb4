"""The sharding overlays (deploy/kubernetes/overlays/{sharded-statefulset,indexed-job}):
every object valid against the Kubernetes API schema (kubernetes-validate, offline, strict:
an unknown field is an error), N the same everywhere, and the environment each pod gets
giving dregsy the shard of that pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dregsy.config.load import parse_config
from dregsy.shard import Shard, shard_from

OVERLAYS = Path(__file__).parents[2] / "deploy" / "kubernetes" / "overlays"

Obj = dict[str, Any]


def _objects(overlay: str) -> list[Obj]:
    """The objects of the kustomization's resources (plain files, no patches)."""
    directory = OVERLAYS / overlay
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "resources"}
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk  # nothing left out, nothing missing
    return [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((directory / name).read_text())
        if doc is not None
    ]


def _one(objects: list[Obj], kind: str) -> Obj:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def _container_env(pod: Obj) -> dict[str, str]:
    (container,) = pod["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _config(objects: list[Obj], tmp_path: Path) -> Any:
    text = _one(objects, "ConfigMap")["data"]["config.yaml"]
    secret = tmp_path / "source-auth"
    secret.write_text("none\n")
    text = text.replace("/secrets/source-auth", str(secret))
    return parse_config(text, base_dir=tmp_path, env={"TARGET_AUTH": "none"})


@pytest.mark.parametrize("overlay", ["sharded-statefulset", "indexed-job"])
def test_every_object_is_valid(overlay: str) -> None:
    version = kubernetes_validate.latest_version()
    for obj in _objects(overlay):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = "/".join(str(part) for part in err.absolute_path)
            pytest.fail(f"{overlay}: {obj['kind']}: {where}: {err.message}")


def test_broken_objects_are_caught() -> None:
    """The check above can fail: a misspelt field and a wrong type are errors."""
    job = _one(_objects("indexed-job"), "Job")
    job["spec"]["backoffLimitPerIndx"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, kubernetes_validate.latest_version(), strict=True)
    statefulset = _one(_objects("sharded-statefulset"), "StatefulSet")
    statefulset["spec"]["replicas"] = "4"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, kubernetes_validate.latest_version(), strict=True)


def test_statefulset_pods_each_get_their_shard(tmp_path: Path) -> None:
    objects = _objects("sharded-statefulset")
    statefulset = _one(objects, "StatefulSet")
    spec = statefulset["spec"]
    replicas = spec["replicas"]
    env = _container_env(spec["template"]["spec"])
    assert env["DREGSY_SHARDS"] == str(replicas)
    assert spec["serviceName"] == _one(objects, "Service")["metadata"]["name"]
    name = statefulset["metadata"]["name"]
    # A pod's host name is its name: <statefulset>-<ordinal>.
    shards = {shard_from(None, env, f"{name}-{ordinal}") for ordinal in range(replicas)}
    assert shards == {Shard(i, replicas) for i in range(replicas)}
    config = _config(objects, tmp_path)
    assert all(task.interval for task in config.tasks)  # periodic: the pods keep running


def test_indexed_job_pods_each_get_their_shard(tmp_path: Path) -> None:
    objects = _objects("indexed-job")
    spec = _one(objects, "Job")["spec"]
    n = spec["completions"]
    assert spec["completionMode"] == "Indexed"
    assert spec["parallelism"] == n
    assert spec["backoffLimitPerIndex"] >= 1
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
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
