"""load_config: reading the file, then parse_config."""

from __future__ import annotations

from pathlib import Path

import pytest

from dregsy.config.load import load_config
from dregsy.errors import ConfigError

TASKS = """\
certs-dir: certs
tasks:
  - name: t
    source: {registry: s.io}
    target: {registry: d.io}
    mappings: [{from: app}]
"""


def test_reads_the_file_and_anchors_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "dregsy.yaml"
    path.write_text(TASKS, encoding="utf-8")
    config = load_config(path)
    assert config.tasks[0].name == "t"
    assert config.certs_dir == tmp_path / "certs"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.path == ""
    assert f"cannot read config file {path}" in problem.message
    assert "No such file or directory" in problem.message


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"# ok\nwatch: true\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.message) == (3, f"config file {path} is not valid UTF-8")


def test_problems_name_the_source(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(path)
