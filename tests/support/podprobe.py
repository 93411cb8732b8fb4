"""A pod container's HTTP endpoint and its probes, reproduced on loopback (for podrun).

In a pod, dregsy listens on every interface of the pod's own network namespace
(``-listen=:9090``) and the kubelet probes the pod's address. The tests run the container in
the host's network and listen on loopback only, never on every interface, so
:func:`loopback_endpoint` rewrites the ``-listen=:PORT`` argument to
``-listen=127.0.0.1:<free port>`` and points the container's declared ports and its
``httpGet`` probes there. Everything else about the ports and probes is taken as declared:
a port must be the one dregsy listens on, a probe must be an HTTP GET on it, and the probe's
timings set how long :meth:`HttpProbe.wait_ok` waits. Fields this module does not know
raise :class:`Unsupported`.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PROBES = ("livenessProbe", "readinessProbe")
PORT_KEYS = frozenset({"name", "containerPort", "protocol"})
PROBE_KEYS = frozenset(
    {
        "httpGet",
        "initialDelaySeconds",
        "periodSeconds",
        "timeoutSeconds",
        "failureThreshold",
        "successThreshold",
    }
)
HTTP_GET_KEYS = frozenset({"path", "port", "scheme"})
# the kubelet's defaults
DEFAULT_PERIOD = 10
DEFAULT_TIMEOUT = 1
DEFAULT_FAILURE_THRESHOLD = 3
POLL_SECONDS = 0.2


class Unsupported(ValueError):
    """The pod spec has something the runner cannot reproduce faithfully."""


class ProbeFailed(AssertionError):
    """A probe did not succeed within the time the kubelet would give it."""


def check_keys(what: str, obj: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise Unsupported(f"{what}: cannot reproduce {', '.join(unknown)}")


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (a small race, fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class HttpProbe:
    """One ``httpGet`` probe, aimed at the loopback port the runner chose."""

    kind: str
    url: str
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int

    @property
    def budget(self) -> float:
        """Seconds from the start until the kubelet gives up (liveness: restarts)."""
        return self.initial_delay + self.period * self.failure_threshold

    def wait_ok(self, started: float) -> int:
        """Poll until the probe succeeds (200-399, as the kubelet counts it); the status.

        Raises :class:`ProbeFailed` once *started* (``time.monotonic()`` when the container
        started) plus :attr:`budget` has passed. Each request has the probe's timeout.
        """
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = started + self.budget
        while True:
            try:
                with opener.open(self.url, timeout=self.timeout) as response:
                    status = int(response.status)
                    last = f"HTTP {status}"
            except urllib.error.HTTPError as err:
                status = err.code
                last = f"HTTP {status}"
            except OSError as err:
                status = 0
                last = str(err)
            if 200 <= status < 400:
                return status
            if time.monotonic() >= deadline:
                raise ProbeFailed(f"{self.kind} {self.url}: {last} after {self.budget:g} s")
            time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Endpoint:
    """The container's args with ``-listen`` rewritten, and where its endpoint answers."""

    args: list[str]
    base_url: str | None  # http://127.0.0.1:PORT, None if the container does not listen
    probes: dict[str, HttpProbe]


def _rewrite_listen(args: Sequence[str], host_port: int) -> tuple[list[str], int | None]:
    """*args* with ``-listen=:PORT`` made ``-listen=127.0.0.1:host_port``; and PORT."""
    rewritten: list[str] = []
    pod_port: int | None = None
    for arg in args:
        flag, sep, value = arg.partition("=")
        if flag not in ("-listen", "--listen"):
            rewritten.append(arg)
            continue
        if not sep or not value.startswith(":") or not value[1:].isdigit():
            raise Unsupported(f"{arg}: only -listen=:PORT (every interface of the pod)")
        pod_port = int(value[1:])
        rewritten.append(f"{flag}=127.0.0.1:{host_port}")
    return rewritten, pod_port


def _ports(container: Mapping[str, Any], pod_port: int | None) -> dict[str | int, int]:
    """Port names and numbers the container declares -> the number (the listen port)."""
    ports: dict[str | int, int] = {}
    for port in container.get("ports") or []:
        check_keys("container port", port, PORT_KEYS)
        number = int(port["containerPort"])
        if number != pod_port:
            raise Unsupported(f"port {number} is declared, but dregsy listens on {pod_port}")
        if port.get("protocol", "TCP") != "TCP":
            raise Unsupported(f"port {number}: protocol {port['protocol']}")
        ports[number] = number
        if "name" in port:
            ports[str(port["name"])] = number
    return ports


def _probe(
    kind: str, spec: Mapping[str, Any], ports: Mapping[str | int, int], base_url: str
) -> HttpProbe:
    check_keys(kind, spec, PROBE_KEYS)
    if "httpGet" not in spec:
        raise Unsupported(f"{kind}: only httpGet")
    get = spec["httpGet"]
    check_keys(f"{kind}.httpGet", get, HTTP_GET_KEYS)
    if get.get("scheme", "HTTP") != "HTTP":
        raise Unsupported(f"{kind}: scheme {get['scheme']}")
    if get["port"] not in ports:
        raise Unsupported(f"{kind}: port {get['port']} is not a port dregsy listens on")
    if spec.get("successThreshold", 1) != 1:
        raise Unsupported(f"{kind}: successThreshold {spec['successThreshold']}")
    return HttpProbe(
        kind=kind,
        url=base_url + str(get.get("path", "/")),
        initial_delay=float(spec.get("initialDelaySeconds", 0)),
        period=float(spec.get("periodSeconds", DEFAULT_PERIOD)),
        timeout=float(spec.get("timeoutSeconds", DEFAULT_TIMEOUT)),
        failure_threshold=int(spec.get("failureThreshold", DEFAULT_FAILURE_THRESHOLD)),
    )


def loopback_endpoint(container: Mapping[str, Any]) -> Endpoint:
    """The container's endpoint and probes, moved to a free loopback port."""
    if any(
        str(part).split("=")[0] in ("-listen", "--listen")
        for part in container.get("command") or []
    ):
        raise Unsupported("-listen in command: only in args")
    host_port = free_loopback_port()
    args, pod_port = _rewrite_listen(container.get("args") or [], host_port)
    ports = _ports(container, pod_port)
    base_url = f"http://127.0.0.1:{host_port}" if pod_port is not None else None
    probes: dict[str, HttpProbe] = {}
    for kind in PROBES:
        if kind in container:
            if base_url is None:
                raise Unsupported(f"{kind}, but the container does not listen (-listen=:PORT)")
            probes[kind] = _probe(kind, container[kind], ports, base_url)
    return Endpoint(args=args, base_url=base_url, probes=probes)
