"""deploy/kubernetes: every overlay renders and validates, and its pods run and sync.

(a) Each kustomization is rendered (``kubectl kustomize``) and every object validated
strictly against the Kubernetes API schema (kubernetes-validate, offline). (b) The
Deployment's and the CronJob's dregsy container run from the built image exactly as their
pod spec says (:mod:`tests.support.podrun`), with the Secret made by the README's
``kubectl create secret`` command, against loopback registries; (c) so does the dind
StatefulSet's, with a real dockerd standing in for the sidecar. Only the registry host
names and the sidecar's port in the rendered ConfigMap are replaced.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import kube, skopeo
from tests.support.dockerd import DockerDaemon
from tests.support.dregsy_cli import auth_value
from tests.support.image import REPO_ROOT, BuiltImage, DockerCli
from tests.support.oci import Index
from tests.support.podrun import Unsupported, docker_run_args, write_volume
from tests.support.registry import HtpasswdAuth, RegistryFactory, RegistryServer
from tests.support.seed import seed_images
from tests.support.users import ALICE, BOB, TEST_USERS

pytestmark = [pytest.mark.e2e]

KUSTOMIZE = REPO_ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = ("base", "overlays/cronjob", "overlays/dind")
SOURCE_HOST = "registry.example.com"
TARGET_HOST = "mirror.example.com"
DIND_HOST = "tcp://localhost:2375"
# What the manifests' config copies: source ref -> (seed image, target ref)
COPIES = {
    "team/app:1.0": ("demo/app:v1", "mirror/team/app:1.0"),
    "team/app:1.1": ("demo/app:v2", "mirror/team/app:1.1"),
    "team/tools:stable": ("demo/multi:m1", "team/tools:stable"),
}
SECRETS = (ALICE[1], BOB[1], auth_value(*ALICE), auth_value(*BOB))
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kinds = {"Deployment", "StatefulSet", "CronJob", "Job"}
    return [kube.pod_spec(obj) for obj in objects if obj["kind"] in kinds]


# (a) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_renders_and_validates_against_the_kubernetes_schema(path: str) -> None:
    objects = kube.render(KUSTOMIZE / path)
    kinds = sorted(obj["kind"] for obj in objects)
    workload = {"base": "Deployment", "overlays/cronjob": "CronJob"}.get(path, "StatefulSet")
    assert workload in kinds
    assert "Deployment" not in kinds or workload == "Deployment"
    for obj in objects:
        kube.validate(obj)
    (pod,) = _pod_specs(objects)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    dregsy = next(c for c in pod["containers"] if c["name"] == "dregsy")
    security = {**pod["securityContext"], **dregsy["securityContext"]}
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65532
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert dregsy["command"] == ["/dregsy"]
    assert dregsy["args"] == ["-config=/config/config.yaml"]
    assert {"requests", "limits"} <= set(dregsy["resources"])
    assert "livenessProbe" not in dregsy  # until dregsy has a health endpoint
    config = yaml.safe_load(kube.find(objects, "ConfigMap")["data"]["config.yaml"])
    intervals = [task.get("interval") for task in config["tasks"]]
    if workload == "CronJob":
        assert intervals == [None]  # one-off tasks: the Job ends
        cronjob = kube.find(objects, "CronJob")
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    else:
        assert all(intervals)
        assert config["watch"] is True
    if workload == "StatefulSet":
        assert config["relay"] == "docker"
        assert config["docker"]["dockerhost"] == DIND_HOST
        dind = next(c for c in pod["containers"] if c["name"] == "dind")
        assert dind["image"].startswith("docker:")
        assert dind["image"].endswith("dind")
        assert dind["securityContext"] == {"privileged": True}


def test_schema_validation_rejects_an_unknown_field() -> None:
    """The validator is strict: a misspelt field is an error, so the test above can fail."""
    deployment = kube.find(kube.render(KUSTOMIZE / "base"), "Deployment")
    deployment["spec"]["replica"] = 1
    with pytest.raises(AssertionError, match="replica"):
        kube.validate(deployment)


def test_pod_runner_refuses_what_it_cannot_reproduce(tmp_path: Path) -> None:
    """A probe (or any field podrun does not know) fails the run tests instead of being
    dropped silently; Secret values go to an env file, never onto the command line."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "dregsy-credentials"},
        "stringData": {
            "source-auth": "c2VjcmV0LXNvdXJjZQ==",
            "target-auth": "c2VjcmV0LXRhcmdldA==",
        },
    }
    objects = [*kube.render(KUSTOMIZE / "base"), secret]
    pod = kube.pod_spec(kube.find(objects, "Deployment"))
    args = docker_run_args(pod, "dregsy", objects, tmp_path / "plain")
    assert not any("c2VjcmV0" in arg for arg in args)
    env_file = Path(args[args.index("--env-file") + 1])
    assert "TARGET_AUTH=c2VjcmV0LXRhcmdldA==" in env_file.read_text().splitlines()
    pod["containers"][0]["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 9090}}
    with pytest.raises(Unsupported, match="livenessProbe"):
        docker_run_args(pod, "dregsy", objects, tmp_path / "probe")


# (b) and (c) -------------------------------------------------------------------------------


def _readme_secret(tmp_path: Path) -> dict[str, Any]:
    """The README's Secret: `kubectl create secret generic ... --from-file` (client-side)."""
    workdir = tmp_path / "secret"
    workdir.mkdir()
    (workdir / "source-auth").write_text(auth_value(*ALICE))
    (workdir / "target-auth").write_text(auth_value(*BOB))
    done = subprocess.run(
        [
            *(kube.kubectl(), "create", "secret", "generic", "dregsy-credentials"),
            *("--from-file=source-auth", "--from-file=target-auth"),
            *("--dry-run=client", "-o", "json"),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    secret: dict[str, Any] = json.loads(done.stdout)
    secret["metadata"].pop("creationTimestamp", None)
    kube.validate(secret)
    return secret


def _registries(registry_factory: RegistryFactory, tmp_path: Path) -> tuple[Any, Any, Any]:
    """Source (alice) and target (bob) with Basic auth; the source holds COPIES' sources."""
    source = registry_factory("source", auth=HtpasswdAuth(TEST_USERS))
    target = registry_factory("target", auth=HtpasswdAuth(TEST_USERS))
    seeded = seed_images(source, tmp_path / "layout", creds=ALICE)
    for ref, (seed_ref, _) in COPIES.items():
        image = seeded.images[seed_ref]
        assert image.tag is not None
        skopeo.push(seeded.layout.path, image.tag, f"{source.host}/{ref}", creds=ALICE)
    return source, target, seeded


def _objects_for_test(
    path: str, source: RegistryServer, target: RegistryServer, secret: dict[str, Any], **swap: str
) -> list[dict[str, Any]]:
    """The rendered objects, with the test's registries (and *swap*) in the ConfigMap."""
    objects = kube.render(KUSTOMIZE / path)
    configmap = kube.find(objects, "ConfigMap", "dregsy-config")
    text = configmap["data"]["config.yaml"]
    for old, new in {SOURCE_HOST: source.host, TARGET_HOST: target.host, **swap}.items():
        assert old in text, f"{old} is not in the {path} config any more"
        text = text.replace(old, new)
    configmap["data"]["config.yaml"] = text
    return [*objects, secret]


def _run_args(objects: list[dict[str, Any]], kind: str, workdir: Path) -> list[str]:
    workload = kube.find(objects, kind)
    return docker_run_args(kube.pod_spec(workload), "dregsy", objects, workdir)


def _assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def _target_digest(target: RegistryServer, ref: str) -> str | None:
    try:
        return skopeo.digest_of(f"{target.host}/{ref}", creds=BOB)
    except skopeo.SkopeoError:
        return None


def _wait_for_copies(
    docker: DockerCli, name: str, target: RegistryServer, expected: dict[str, str]
) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if all(_target_digest(target, ref) == digest for ref, digest in expected.items()):
            return
        state = json.loads(docker.run(["inspect", name]).stdout)[0]["State"]
        if not state["Running"]:
            break
        time.sleep(0.5)
    logs = docker.run(["logs", name]).stderr
    raise AssertionError(f"the copies did not land:\n{logs}")


def _stop(docker: DockerCli, name: str) -> tuple[int, str]:
    """SIGTERM (as the kubelet sends it), wait, and remove; the exit status and the log."""
    docker.run(["stop", "--time", "20", name], timeout=60)
    status = int(docker.run(["inspect", "--format", "{{.State.ExitCode}}", name]).stdout)
    logs = docker.run(["logs", name])
    docker.run(["rm", name])
    return status, logs.stdout + logs.stderr


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("skopeo")
def test_deployment_pod_syncs_and_reloads_an_edited_configmap(
    docker: DockerCli, dregsy_image: BuiltImage, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target, seeded = _registries(registry_factory, tmp_path)
    objects = _objects_for_test("base", source, target, _readme_secret(tmp_path))
    args = _run_args(objects, "Deployment", tmp_path / "pod")
    assert "dregsy:latest" in args  # the manifest's image, which scripts/image tags too
    name = f"dregsy-deployment-{uuid.uuid4().hex[:8]}"
    docker.run(["run", "--detach", "--name", name, *args])
    expected = {dst: seeded.digest(seed) for seed, dst in COPIES.values()}
    try:
        _wait_for_copies(docker, name, target, expected)
        # `kubectl apply` of an edited ConfigMap: the kubelet swaps the mounted files, and
        # with watch: true dregsy reloads and syncs the new tag without a restart
        image = seeded.images["demo/app:v1"]
        assert image.tag is not None
        skopeo.push(seeded.layout.path, image.tag, f"{source.host}/team/app:1.2", creds=ALICE)
        configmap = kube.find(objects, "ConfigMap", "dregsy-config")
        edited = configmap["data"]["config.yaml"].replace("['1.0', '1.1']", "['1.0', '1.1', '1.2']")
        assert "'1.2'" in edited
        write_volume(tmp_path / "pod" / "volume-config", {"config.yaml": edited.encode()})
        expected["mirror/team/app:1.2"] = seeded.digest("demo/app:v1")
        _wait_for_copies(docker, name, target, expected)
    finally:
        status, logs = _stop(docker, name)
    assert status == 0, logs
    messages = [json.loads(line)["msg"] for line in logs.splitlines()]  # LOG_FORMAT=json
    summaries = [message for message in messages if message.startswith("task mirror:")]
    assert "3 copied, 0 skipped, 0 failed" in summaries[0], logs
    assert "configuration reloaded: 1 task(s)" in messages, logs
    assert "1 copied, 3 skipped, 0 failed" in summaries[-1], logs
    _assert_no_secrets(logs)


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("skopeo")
def test_cronjob_pod_syncs_once_and_exits(
    docker: DockerCli, dregsy_image: BuiltImage, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target, seeded = _registries(registry_factory, tmp_path)
    objects = _objects_for_test("overlays/cronjob", source, target, _readme_secret(tmp_path))
    args = _run_args(objects, "CronJob", tmp_path / "pod")
    first = docker.run(["run", "--rm", *args], timeout=300)
    assert "3 copied, 0 skipped, 0 failed" in first.stderr, first.stderr
    for seed_ref, dst in COPIES.values():
        assert _target_digest(target, dst) == seeded.digest(seed_ref), dst
    again = docker.run(["run", "--rm", *args], timeout=300)  # the next scheduled run
    assert "0 copied, 3 skipped, 0 failed" in again.stderr, again.stderr
    _assert_no_secrets(first.stderr + again.stderr)


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("skopeo")
def test_dind_statefulset_pod_relays_through_the_sidecar_daemon(
    docker: DockerCli,
    dregsy_image: BuiltImage,
    dockerd: DockerDaemon,
    registry_factory: RegistryFactory,
    tmp_path: Path,
) -> None:
    source, target, seeded = _registries(registry_factory, tmp_path)
    secret = _readme_secret(tmp_path)
    objects = _objects_for_test(
        "overlays/dind", source, target, secret, **{DIND_HOST: dockerd.tcp_host}
    )
    args = _run_args(objects, "StatefulSet", tmp_path / "pod")
    name = f"dregsy-dind-{uuid.uuid4().hex[:8]}"
    docker.run(["run", "--detach", "--name", name, *args])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = docker.run(["logs", name]).stderr
            if "task mirror:" in logs:
                break
            time.sleep(0.5)
    finally:
        status, logs = _stop(docker, name)
    assert status == 0, logs
    assert "3 copied, 0 skipped, 0 failed" in logs, logs
    for seed_ref, dst in COPIES.values():
        manifest = json.loads(skopeo.inspect_raw(f"{target.host}/{dst}", creds=BOB))
        # the daemon pushes its own manifest; the image config is the source's (amd64's)
        assert manifest["mediaType"] == DOCKER_V2, dst
        image = seeded.images[seed_ref]
        if isinstance(image, Index):
            image = image.image_for("linux", "amd64")
        config = image.config_digest
        assert manifest["config"]["digest"] == config, dst
    assert dockerd.repo_tags() == []  # the relay removed what it pulled and tagged
    _assert_no_secrets(logs)
