"""`referrers`, `referrer-types` and `digest-tags`: on a mapping, or on a task as the
default of its mappings; refused (exit status 2) by the relays that cannot copy them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dregsy.config.load import parse_config
from dregsy.config.types import ReferrerSettings
from dregsy.errors import ConfigError
from dregsy.relays.capabilities import capability_problems

CONFIG = """\
{relay}
tasks:
  - name: t
    referrers: true
    referrer-types: [application/spdx+json]
    source: {{registry: src.example.com}}
    target: {{registry: dst.example.com}}
    mappings:
      - from: a
      - from: b
        referrers: false
        digest-tags: true
      - from: c
        referrer-types:
          - application/vnd.dev.cosign.artifact.sig.v1+json
          - application/vnd.cncf.notary.signature
"""


def test_task_keys_are_the_defaults_of_its_mappings() -> None:
    a, b, c = parse_config(CONFIG.format(relay="")).tasks[0].mappings
    assert a.referrers == ReferrerSettings(referrers=True, types=("application/spdx+json",))
    assert b.referrers == ReferrerSettings(
        referrers=False,
        types=("application/spdx+json",),
        digest_tags=True,
        keys=("digest-tags",),
    )
    assert b.referrers.enabled
    assert c.referrers.types == (
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/vnd.cncf.notary.signature",
    )
    assert c.referrers.wants("application/vnd.cncf.notary.signature")
    assert not c.referrers.wants("application/spdx+json")


def test_without_the_keys_nothing_travels() -> None:
    text = "tasks: [{name: t, source: {registry: s.io}, target: {registry: d.io}, " + (
        "mappings: [{from: a}]}]"
    )
    (mapping,) = parse_config(text).tasks[0].mappings
    assert mapping.referrers == ReferrerSettings()
    assert not mapping.referrers.enabled


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("referrers: yes-please", "tasks[0].mappings[0].referrers: must be true or false"),
        ("referrer-types: [spdx]", "invalid media type 'spdx'"),
        ("referrer-types: []", "tasks[0].mappings[0].referrer-types: must not be empty"),
        ("digest-tag: true", "unknown key 'digest-tag' (did you mean 'digest-tags'?)"),
    ],
)
def test_bad_values_name_the_key(entry: str, message: str) -> None:
    text = f"""\
tasks:
  - name: t
    source: {{registry: s.io}}
    target: {{registry: d.io}}
    mappings:
      - from: a
        {entry}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)
    assert "line 7" in str(caught.value)


def test_referrer_types_without_referrers_is_an_error() -> None:
    text = """\
tasks:
  - name: t
    referrer-types: [application/spdx+json]
    source: {registry: s.io}
    target: {registry: d.io}
    mappings:
      - from: a
        referrers: true
        referrer-types: [application/spdx+json]
      - from: b
        referrer-types: [application/spdx+json]
  - name: u
    referrer-types: [application/spdx+json]
    source: {registry: s.io}
    target: {registry: d.io}
    mappings: [{from: a, digest-tags: true}]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [str(p) for p in caught.value.problems] == [
        "line 11: tasks[0].mappings[1].referrer-types: has no effect without 'referrers: true'",
        "line 13: tasks[1].referrer-types: has no effect without 'referrers: true'",
    ]


@pytest.mark.parametrize("relay", ["skopeo", "docker"])
def test_other_relays_refuse_the_keys(relay: str) -> None:
    config = parse_config(CONFIG.format(relay=f"relay: {relay}"))
    paths = [p.path for p in capability_problems(config)]
    assert paths == [
        "tasks[0].referrers",
        "tasks[0].referrer-types",
        "tasks[0].mappings[1].digest-tags",
        "tasks[0].mappings[2].referrer-types",
    ]


def test_the_cli_exits_2_for_referrers_with_skopeo(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(relay="relay: skopeo"))
    result = subprocess.run(
        [sys.executable, "-m", "dregsy", f"-config={path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "tasks[0].referrers: does not work with the skopeo relay" in result.stderr
    assert "Traceback" not in result.stderr
