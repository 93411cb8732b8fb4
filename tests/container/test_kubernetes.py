"""deploy/kubernetes: every overlay renders and validates, and its pods run and sync.

(a) Each kustomization is rendered (``kubectl kustomize``) and every object validated
strictly against the Kubernetes API schema (kubernetes-validate, offline; the ServiceMonitor
against its CRD's schema). (b) The Deployment's and the CronJob's dregsy container run from
the built image exactly as their pod spec says (:mod:`tests.support.podrun`), with the
Secret made by the README's ``kubectl create secret`` command, against loopback registries;
their probes must answer within their timings, and /metrics counts the sync; (c) so does
the dind StatefulSet's, with a real dockerd standing in for the sidecar. Only the registry
host names and the sidecar's port in the rendered ConfigMap are replaced, and the endpoint's
``-listen=:9090`` becomes a loopback port (podrun's one deviation).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import kube, skopeo
from tests.support.dockerd import DockerDaemon
from tests.support.dregsy_cli import auth_value
from tests.support.image import REPO_ROOT, BuiltImage, DockerCli
from tests.support.oci import Index
from tests.support.podprobe import HttpProbe, ProbeFailed, free_loopback_port
from tests.support.podrun import PodRun, Unsupported, pod_run, write_volume
from tests.support.registry import HtpasswdAuth, RegistryFactory, RegistryServer
from tests.support.seed import seed_images
from tests.support.users import ALICE, BOB, TEST_USERS

pytestmark = [pytest.mark.e2e]

KUSTOMIZE = REPO_ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = ("base", "overlays/cronjob", "overlays/dind", "overlays/monitoring")
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
HTTP_PORT = {"name": "http", "containerPort": 9090, "protocol": "TCP"}
SCRAPE_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "9090",
    "prometheus.io/path": "/metrics",
}


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kinds = {"Deployment", "StatefulSet", "CronJob", "Job"}
    return [obj for obj in objects if obj["kind"] in kinds]


def _pod_annotations(workload: dict[str, Any]) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    annotations: dict[str, str] = spec["template"]["metadata"].get("annotations", {})
    return annotations


def _assert_endpoint(dregsy: dict[str, Any], annotations: dict[str, str], scraped: bool) -> None:
    """-listen=:9090, the named port, both probes on it; the scrape annotations if *scraped*."""
    assert dregsy["args"] == ["-config=/config/config.yaml", "-listen=:9090"]
    assert dregsy["ports"] == [HTTP_PORT]
    liveness, readiness = dregsy["livenessProbe"], dregsy["readinessProbe"]
    assert liveness["httpGet"] == {"path": "/healthz", "port": "http"}
    assert readiness["httpGet"] == {"path": "/readyz", "port": "http"}
    for probe in (liveness, readiness):
        assert probe["timeoutSeconds"] < probe["periodSeconds"]
    # a liveness restart needs a minute without an answer, not one slow request
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60
    if scraped:
        assert annotations == SCRAPE_ANNOTATIONS
    else:
        assert not any(key.startswith("prometheus.io/") for key in annotations)


def _assert_monitoring(objects: list[dict[str, Any]], workload: dict[str, Any]) -> None:
    """The Service selects the pod and exposes port http; the ServiceMonitor scrapes it."""
    service = kube.find(objects, "Service", "dregsy")
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == HTTP_PORT["name"]
    monitor = kube.find(objects, "ServiceMonitor", "dregsy")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == "/metrics"


# (a) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_renders_and_validates_against_the_kubernetes_schema(path: str) -> None:
    objects = kube.render(KUSTOMIZE / path)
    kinds = sorted(obj["kind"] for obj in objects)
    workload = {"overlays/cronjob": "CronJob", "overlays/dind": "StatefulSet"}.get(
        path, "Deployment"
    )
    assert workload in kinds
    assert "Deployment" not in kinds or workload == "Deployment"
    for obj in objects:
        kube.validate(obj)
    (workload_obj,) = _workloads(objects)
    pod = kube.pod_spec(workload_obj)
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
    assert {"requests", "limits"} <= set(dregsy["resources"])
    annotations = _pod_annotations(workload_obj)
    if workload == "CronJob":  # a one-off run: nothing to probe or scrape
        assert dregsy["args"] == ["-config=/config/config.yaml"]
        assert not {"ports", "livenessProbe", "readinessProbe"} & set(dregsy)
        assert annotations == {}
    else:
        _assert_endpoint(dregsy, annotations, scraped=path != "overlays/monitoring")
    if path == "overlays/monitoring":
        _assert_monitoring(objects, workload_obj)
    else:
        assert "ServiceMonitor" not in kinds
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
        # the NetworkPolicy admits dregsy's endpoint, and not the sidecar's daemon
        policy = kube.find(objects, "NetworkPolicy", "dregsy-dind")
        assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9090}]}]


def test_schema_validation_rejects_an_unknown_field() -> None:
    """The validator is strict: a misspelt field is an error, so the test above can fail."""
    deployment = kube.find(kube.render(KUSTOMIZE / "base"), "Deployment")
    deployment["spec"]["replica"] = 1
    with pytest.raises(AssertionError, match="replica"):
        kube.validate(deployment)


def test_pod_runner_refuses_what_it_cannot_reproduce(tmp_path: Path) -> None:
    """A field podrun does not know fails the run tests instead of being dropped silently;
    Secret values go to an env file, never onto the command line; the endpoint moves to
    loopback and the probes follow it."""
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
    run = pod_run(pod, "dregsy", objects, tmp_path / "plain")
    assert not any("c2VjcmV0" in arg for arg in run.args)
    env_file = Path(run.args[run.args.index("--env-file") + 1])
    assert "TARGET_AUTH=c2VjcmV0LXRhcmdldA==" in env_file.read_text().splitlines()
    assert run.base_url is not None
    assert run.base_url.startswith("http://127.0.0.1:")
    assert run.args[-2:] == ["-config=/config/config.yaml", f"-listen={run.base_url[7:]}"]
    assert {kind: probe.url for kind, probe in run.probes.items()} == {
        "livenessProbe": f"{run.base_url}/healthz",
        "readinessProbe": f"{run.base_url}/readyz",
    }
    assert run.probes["livenessProbe"].budget == 5 + 20 * 3  # the manifest's timings
    dregsy = pod["containers"][0]
    for field, value in [
        ("startupProbe", {"httpGet": {"path": "/healthz", "port": "http"}}),
        ("livenessProbe", {"exec": {"command": ["true"]}}),
        ("readinessProbe", {"httpGet": {"path": "/readyz", "port": 8080}}),
        ("ports", [{**HTTP_PORT, "hostPort": 9090}]),
        ("args", ["-config=/config/config.yaml", "-listen=0.0.0.0:9090"]),
    ]:
        changed = json.loads(json.dumps(pod))
        changed["containers"][0][field] = value
        with pytest.raises(Unsupported):
            pod_run(changed, "dregsy", objects, tmp_path / field)
    assert dregsy["args"][-1] == "-listen=:9090"  # the pod spec itself is left as it was


def test_a_probe_that_never_answers_fails_within_its_timings() -> None:
    """wait_ok gives up after initialDelay + period * failureThreshold, so a probe that does
    not answer fails the pod tests."""
    probe = HttpProbe(
        kind="livenessProbe",
        url=f"http://127.0.0.1:{free_loopback_port()}/healthz",
        initial_delay=0,
        period=0.5,
        timeout=0.5,
        failure_threshold=2,
    )
    started = time.monotonic()
    with pytest.raises(ProbeFailed, match="livenessProbe"):
        probe.wait_ok(started)
    assert time.monotonic() - started < 10  # gave up at its budget (1 s), did not hang


# (b) and (c) -------------------------------------------------------------------------------


def _readme_secret(tmp_path: Path) -> dict[str, Any]:
    return kube.readme_secret(tmp_path / "secret", auth_value(*ALICE), auth_value(*BOB))


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


def _pod_run(objects: list[dict[str, Any]], kind: str, workdir: Path) -> PodRun:
    workload = kube.find(objects, kind)
    return pod_run(kube.pod_spec(workload), "dregsy", objects, workdir)


def _assert_probes_pass(run: PodRun, started: float) -> None:
    """Both probes answer 200 within the timings the manifest gives them."""
    assert set(run.probes) == {"livenessProbe", "readinessProbe"}
    for probe in run.probes.values():
        assert probe.wait_ok(started) == 200, probe.url


def _scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics, parsed by prometheus_client's text parser: (sample, labels) -> value."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _task_counts(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
    """The mirror task's run and image counters, by result."""
    counts: dict[str, float] = {}
    for (name, labels), value in samples.items():
        label = dict(labels)
        if label.get("task") != "mirror":
            continue
        if name == "dregsy_task_runs_total":
            counts[f"runs {label['result']}"] = value
        elif name == "dregsy_images_total":
            counts[f"images {label['result']}"] = value
    return counts


def _wait_for_counts(base_url: str, expected: dict[str, float]) -> None:
    deadline = time.monotonic() + 60
    counts = _task_counts(_scrape(base_url))
    while counts != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = _task_counts(_scrape(base_url))
    assert counts == expected


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
    objects = _objects_for_test(
        "base",
        source,
        target,
        _readme_secret(tmp_path),
    )
    run = _pod_run(objects, "Deployment", tmp_path / "pod")
    assert "dregsy:latest" in run.args  # the manifest's image, which scripts/image tags too
    assert run.base_url is not None
    name = f"dregsy-deployment-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    docker.run(["run", "--detach", "--name", name, *run.args])
    expected = {dst: seeded.digest(seed) for seed, dst in COPIES.values()}
    zero = {"runs failure": 0.0, "images failed": 0.0}
    try:
        _assert_probes_pass(run, started)
        _wait_for_copies(docker, name, target, expected)
        _wait_for_counts(
            run.base_url, {**zero, "runs success": 1, "images copied": 3, "images skipped": 0}
        )
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
        _wait_for_counts(
            run.base_url, {**zero, "runs success": 2, "images copied": 4, "images skipped": 3}
        )
        _assert_probes_pass(run, time.monotonic())  # still live and ready after the reload
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
    objects = _objects_for_test(
        "overlays/cronjob",
        source,
        target,
        _readme_secret(tmp_path),
    )
    run = _pod_run(objects, "CronJob", tmp_path / "pod")
    assert (run.base_url, run.probes) == (None, {})  # a one-off run: no endpoint, no probes
    args = run.args
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
    run = _pod_run(objects, "StatefulSet", tmp_path / "pod")
    name = f"dregsy-dind-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    docker.run(["run", "--detach", "--name", name, *run.args])
    try:
        _assert_probes_pass(run, started)
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
