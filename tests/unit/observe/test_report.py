from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dregsy.observe.events import Listeners
from dregsy.observe.report import ReportWriter, write_atomically
from dregsy.observe.results import ImageOutcome
from tests.unit.observe.support import image, run, task


def test_report_holds_the_latest_run_of_every_task(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    writer = ReportWriter(path, version="1.2.3", now=lambda: 0.0)
    events = Listeners([writer])
    events.configured([task("a", 60), task("b", 60)])
    events.run_finished(run("a", image("a", "v1", ImageOutcome.COPIED, size=5)))
    doc = json.loads(path.read_text())
    assert [t["task"] for t in doc["tasks"]] == ["a"]
    events.run_finished(run("b", image("b", "v1", ImageOutcome.FAILED, error="denied")))
    events.run_finished(run("a", image("a", "v1", ImageOutcome.SKIPPED), started=2000.0))
    doc = json.loads(path.read_text())
    assert [t["task"] for t in doc["tasks"]] == ["a", "b"]
    assert [(i["task"], i["result"]) for i in doc["images"]] == [("a", "skipped"), ("b", "failed")]
    entry = doc["images"][1]
    assert set(entry) == {
        "task",
        "source",
        "target",
        "source_digest",
        "target_digest",
        "result",
        "reason",
        "error",
        "bytes",
        "referrers",
        "seconds",
    }
    assert entry["error"] == "denied"
    assert doc["tasks"][0]["started"] == "1970-01-01T00:33:20Z"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_report_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old\n")

    with pytest.raises(UnicodeEncodeError):  # fails half way through the temporary file
        write_atomically(path, "new \ud800")
    assert path.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]

    folder = tmp_path / "gone"
    writer = ReportWriter(folder / "report.json", version="1", now=lambda: 0.0)
    writer.run_finished(run("a"))  # logged, not raised: the run itself went fine
    assert not folder.exists()
    assert sorted(os.listdir(tmp_path)) == ["report.json"]
