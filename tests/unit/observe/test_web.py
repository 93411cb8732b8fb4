"""The endpoint on a real loopback socket, read with httpx."""

from __future__ import annotations

import socket

import httpx
import pytest

from dregsy.errors import EndpointError
from dregsy.observe import web
from dregsy.observe.address import ListenAddress
from dregsy.observe.events import Listeners
from dregsy.observe.metrics import TaskMetrics, new_registry
from dregsy.observe.results import ImageOutcome
from dregsy.observe.status import StatusBoard
from tests.unit.observe.support import image, run, task

LOOPBACK = ListenAddress("127.0.0.1", 0)


async def test_probes_page_status_and_metrics() -> None:
    board = StatusBoard(version="1.2.3", now=lambda: 1000.0)
    registry = new_registry()
    events = Listeners([board, TaskMetrics(registry)])
    endpoint = await web.start(LOOPBACK, board, registry)
    try:
        (base,) = endpoint.urls
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("healthz")).status_code == 200
            not_ready = await client.get("readyz")
            assert not_ready.status_code == 503
            events.configured([task("a")])
            assert (await client.get("readyz")).status_code == 200
            events.run_finished(run("a", image("a", "v1", ImageOutcome.FAILED, error="<denied>")))
            page = await client.get("/")
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert page.headers["cache-control"] == "no-store"
            assert "&lt;denied&gt;" in page.text
            status = (await client.get("api/status")).json()
            assert status["tasks"][0]["last_run"]["failures"][0]["error"] == "<denied>"
            metrics = await client.get("metrics")
            assert metrics.headers["content-type"].startswith("text/plain")
            assert "dregsy_task_runs_total" in metrics.text
            assert (await client.get("nothing-here")).status_code == 404
            assert (await client.post("api/status")).status_code == 405
    finally:
        await endpoint.aclose()


async def test_a_port_in_use_is_an_endpoint_error() -> None:
    board = StatusBoard(version="1", now=lambda: 0.0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EndpointError, match=f"cannot listen on 127.0.0.1:{port}: "):
            await web.start(ListenAddress("127.0.0.1", port), board, new_registry())
