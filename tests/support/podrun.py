"""Run one container of a rendered Kubernetes pod spec with ``docker run``, as a kubelet would.

:func:`pod_run` turns the container's spec into ``docker run`` options: the same
image, command and args, environment (Secret and ConfigMap references resolved from the
rendered objects, written to an env file, never onto the command line), user and groups
(``runAsUser``/``runAsGroup``, ``fsGroup`` as a supplementary group), read-only root,
dropped capabilities, ``no-new-privileges``, memory and CPU limits, and each volume mounted
where the spec mounts it: ConfigMaps and Secrets as files (a Secret's files owned by root and
the ``fsGroup``, with the volume's ``defaultMode``, as the kubelet writes them), ``emptyDir``
as a tmpfs or an empty directory. The pod's network is the host's (``--network host``): the
test registries listen on loopback.

One deviation from the spec: tests listen on loopback only, never on every interface, so
dregsy's ``-listen=:PORT`` argument becomes ``-listen=127.0.0.1:<free port>``, and the
container's ports and its liveness and readiness probes (``httpGet``) point there
(:mod:`tests.support.podprobe`). The probes are returned for the test to check: each must
answer within its own timings (:meth:`~tests.support.podprobe.HttpProbe.wait_ok`).

Anything in the spec it does not know how to reproduce raises :class:`Unsupported`, so a
manifest that grows a new field makes the test fail until this module learns it.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.podprobe import HttpProbe, Unsupported, check_keys, loopback_endpoint

__all__ = ["PodRun", "Unsupported", "pod_run", "write_volume"]

Obj = dict[str, Any]

CONTAINER_KEYS = frozenset(
    {
        "name",
        "image",
        "imagePullPolicy",
        "command",
        "args",
        "env",
        "resources",
        "securityContext",
        "volumeMounts",
        "ports",
        "livenessProbe",
        "readinessProbe",
    }
)
POD_KEYS = frozenset(
    {
        "containers",
        "volumes",
        "securityContext",
        "serviceAccountName",
        "automountServiceAccountToken",
        "restartPolicy",
    }
)
DEFAULT_MODE = 0o644


@dataclass(frozen=True)
class PodRun:
    """How to run one container: ``docker run`` arguments, and its endpoint if it listens."""

    args: list[str]
    base_url: str | None  # http://127.0.0.1:PORT: dregsy's endpoint, moved to loopback
    probes: dict[str, HttpProbe]  # livenessProbe, readinessProbe, as declared


def _by_name(objects: Sequence[Obj], kind: str, name: str) -> Obj:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise Unsupported(f"{kind} {name} is referenced but not given")


def _secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    data.update({key: value.encode() for key, value in (secret.get("stringData") or {}).items()})
    return data


def _configmap_data(configmap: Mapping[str, Any]) -> dict[str, bytes]:
    return {key: value.encode() for key, value in (configmap.get("data") or {}).items()}


def _memory_bytes(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "k": 1000, "M": 1000**2, "G": 1000**3}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


def _cpus(quantity: str) -> str:
    if quantity.endswith("m"):
        return str(int(quantity[:-1]) / 1000)
    return quantity


def _env_value(item: Mapping[str, Any], objects: Sequence[Obj]) -> str:
    if "value" in item:
        return str(item["value"])
    source = item.get("valueFrom") or {}
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return _secret_data(_by_name(objects, "Secret", ref["name"]))[ref["key"]].decode()
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return str(_by_name(objects, "ConfigMap", ref["name"])["data"][ref["key"]])
    raise Unsupported(f"env {item.get('name')}: cannot reproduce {sorted(source)}")


def write_volume(
    directory: Path, files: Mapping[str, bytes], mode: int = DEFAULT_MODE, gid: int | None = None
) -> None:
    """Write a ConfigMap's or Secret's files into *directory* as the kubelet does.

    The kubelet's atomic writer: the files live in a hidden ``..<timestamp>`` directory,
    ``..data`` links to it, and each key is a link ``KEY -> ..data/KEY``. Called again, it
    writes a new hidden directory and swaps ``..data`` in one rename, which is how an edited
    ConfigMap reaches a running pod.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    previous = (directory / "..data").resolve() if (directory / "..data").exists() else None
    version = directory / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    version.mkdir()
    version.chmod(0o755)
    for key, content in files.items():
        path = version / key
        path.write_bytes(content)
        os.chown(path, 0, gid if gid is not None else 0)
        path.chmod(mode)
    swap = directory / "..data_tmp"
    swap.symlink_to(version.name)
    swap.rename(directory / "..data")
    for key in files:
        link = directory / key
        if not link.is_symlink():
            link.symlink_to(f"..data/{key}")
    if previous is not None:
        shutil.rmtree(previous)


def _volume_args(
    volume: Mapping[str, Any],
    mount: Mapping[str, Any],
    objects: Sequence[Obj],
    workdir: Path,
    fs_group: int | None,
) -> list[str]:
    if "subPath" in mount or "subPathExpr" in mount:
        raise Unsupported(f"volumeMount {mount['name']}: subPath")
    target = mount["mountPath"]
    readonly = ",readonly" if mount.get("readOnly") else ""
    host_dir = workdir / f"volume-{volume['name']}"
    if "configMap" in volume:
        source = volume["configMap"]
        data = _configmap_data(_by_name(objects, "ConfigMap", source["name"]))
        write_volume(host_dir, data, source.get("defaultMode", DEFAULT_MODE))
    elif "secret" in volume:
        source = volume["secret"]
        data = _secret_data(_by_name(objects, "Secret", source["secretName"]))
        write_volume(host_dir, data, source.get("defaultMode", DEFAULT_MODE), fs_group)
    elif "emptyDir" in volume:
        source = volume["emptyDir"] or {}
        if source.get("medium") == "Memory":
            size = source.get("sizeLimit")
            options = f"size={_memory_bytes(size)}," if size else ""
            return ["--tmpfs", f"{target}:{options}mode=1777"]
        host_dir.mkdir(parents=True)
        host_dir.chmod(0o777)
    else:
        raise Unsupported(f"volume {volume['name']}: only configMap, secret and emptyDir")
    return ["--mount", f"type=bind,source={host_dir},target={target}{readonly}"]


def pod_run(
    pod: Mapping[str, Any],
    container_name: str,
    objects: Sequence[Obj],
    workdir: Path,
) -> PodRun:
    """How to run one container: its ``docker run`` arguments (after ``run``, image and
    command included), and where its endpoint and probes answer if it listens.

    *objects* are the rendered objects plus the Secrets the manifests reference; files for
    volumes and the env file go to *workdir*.
    """
    check_keys("pod spec", pod, POD_KEYS)
    workdir.mkdir(parents=True, exist_ok=True)
    if pod.get("automountServiceAccountToken") is not False:
        raise Unsupported("a service account token would be mounted")
    (container,) = [c for c in pod["containers"] if c["name"] == container_name]
    check_keys(f"container {container_name}", container, CONTAINER_KEYS)
    endpoint = loopback_endpoint(container)

    pod_security = dict(pod.get("securityContext") or {})
    security = {**pod_security, **(container.get("securityContext") or {})}
    args = ["--network", "host"]

    known_security = {
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "fsGroup",
        "seccompProfile",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "capabilities",
        "privileged",
    }
    check_keys("securityContext", security, frozenset(known_security))
    if "runAsUser" in security:
        user = str(security["runAsUser"])
        if "runAsGroup" in security:
            user += f":{security['runAsGroup']}"
        args += ["--user", user]
    if security.get("runAsNonRoot") and security.get("runAsUser") == 0:
        raise Unsupported("runAsNonRoot with runAsUser 0 would not start")
    fs_group = pod_security.get("fsGroup")
    if fs_group is not None:
        args += ["--group-add", str(fs_group)]
    seccomp = (security.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp != "RuntimeDefault":
        raise Unsupported(f"seccompProfile {seccomp}")
    if security.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for cap in (security.get("capabilities") or {}).get("drop", []):
        args += ["--cap-drop", cap]
    for cap in (security.get("capabilities") or {}).get("add", []):
        args += ["--cap-add", cap]
    if security.get("privileged"):
        args.append("--privileged")

    limits = (container.get("resources") or {}).get("limits") or {}
    if "memory" in limits:
        args += ["--memory", str(_memory_bytes(limits["memory"]))]
    if "cpu" in limits:
        args += ["--cpus", _cpus(str(limits["cpu"]))]

    env_file = workdir / "env"
    lines = [f"{item['name']}={_env_value(item, objects)}" for item in container.get("env", [])]
    env_file.write_text("".join(line + "\n" for line in lines))
    env_file.chmod(0o600)
    args += ["--env-file", str(env_file)]

    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        args += _volume_args(volumes[mount["name"]], mount, objects, workdir, fs_group)

    command = list(container.get("command") or [])
    if command:
        args += ["--entrypoint", command[0]]
    args.append(container["image"])
    args += command[1:]
    args += endpoint.args
    return PodRun(args=args, base_url=endpoint.base_url, probes=endpoint.probes)
