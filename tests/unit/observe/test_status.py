from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from dregsy.observe.events import Listeners
from dregsy.observe.page import render
from dregsy.observe.results import ImageOutcome
from dregsy.observe.status import StatusBoard
from tests.unit.observe.support import image, run, task


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _doc(board: StatusBoard) -> Any:
    """The snapshot as `/api/status` serves it."""
    return json.loads(json.dumps(board.snapshot()))


def _board() -> StatusBoard:
    now = [1000.0]
    return StatusBoard(version="1.2.3", now=lambda: now[0])


def test_board_keeps_the_last_run_progress_and_next_run() -> None:
    board = _board()
    assert _doc(board)["ready"] is False
    events = Listeners([board])
    events.configured([task("a", 60), task("b")])
    assert _doc(board)["ready"] is True
    events.run_started("a", 1000.0)
    events.images_planned("a", 3)
    events.image_done(image("a", "v1", ImageOutcome.COPIED, size=10))
    running = _doc(board)["tasks"][0]["running"]
    assert running == {"since": "1970-01-01T00:16:40Z", "done": 1, "total": 3, "bytes": 0}
    events.bytes_moved("a", 2048)
    assert _doc(board)["tasks"][0]["running"]["bytes"] == 2048
    assert "1 of 3 images, 2.0 KiB moved" in render(board)
    failed = image("a", "v2", ImageOutcome.FAILED, error="denied")
    events.run_finished(run("a", image("a", "v1", ImageOutcome.COPIED, size=10), failed))
    events.next_run("a", 1060.0)
    doc = _doc(board)
    a, b = doc["tasks"]
    assert a["running"] is None
    assert a["last_run"]["result"] == "failure"
    assert a["last_run"]["copied"] == 1
    assert a["last_run"]["failures"] == [
        {"source": failed.source, "target": failed.target, "error": "denied"}
    ]
    assert a["last_success"] is None
    assert a["next_run"] == "1970-01-01T00:17:40Z"
    assert b["last_run"] is None

    # A reload keeps the tasks that are still there, with their last run.
    events.configured([task("a", 30), task("c")])
    names = [t["name"] for t in _doc(board)["tasks"]]
    assert names == ["a", "c"]
    assert board.tasks["a"].last is not None
    assert board.tasks["a"].interval == 30


def test_page_escapes_what_registries_say() -> None:
    board = _board()
    events = Listeners([board])
    events.configured([task("<i>a</i>")])
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    events.run_finished(
        run("<i>a</i>", image("<i>a</i>", "v1", ImageOutcome.FAILED, error=hostile))
    )
    page = render(board)
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "img" not in parser.tags
    assert "i" not in parser.tags
    text = "".join(parser.text)
    assert hostile in text  # shown as text, whole
    assert "<i>a</i>" in text
    assert "1 failed" in text


def test_page_is_self_contained_and_refreshes() -> None:
    board = _board()
    Listeners([board]).configured([task("a")])
    page = render(board)
    parser = _Tags()
    parser.feed(page)
    assert '<meta http-equiv="refresh" content="10">' in page
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert "img" not in parser.tags
    assert "not run yet" in page
