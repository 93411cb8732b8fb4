"""Sharding end to end: N `dregsy` processes, each with its shard, against real registries.

The source holds 67 repositories of two tags each, seeded with raw HTTP. What landed at the
target is read back with raw HTTP (catalog, tag lists, the SHA-256 of each manifest) and a
few tags with skopeo; which process touched what comes from the registries' access logs.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.support import chromium, skopeo
from tests.support.accesslog import AccessLogEntry
from tests.support.bulk import seed_repositories, target_state
from tests.support.dregsy_cli import Daemon, Result, run
from tests.support.procs import require_binary
from tests.support.registry import RegistryFactory, RegistryServer

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

TEAM = [f"team/svc-{i:02d}" for i in range(66)]
TOOL = "base/tool"
TAGS = ["1.0", "1.1"]
SUMMARY = re.compile(r"shard (\d)/3: (\d+) of (\d+) repositories")


def _config(path: Path, source: RegistryServer, target: RegistryServer, parallel: int = 8) -> Path:
    path.write_text(
        f"""
parallel: {parallel}
tasks:
  - name: mirror
    source: {{registry: {source.host}}}
    target: {{registry: {target.host}}}
    mappings:
      - from: 'regex:team/.*'
        to: mirror
      - from: {TOOL}
        to: mirror/{TOOL}
"""
    )
    return path


def _expected(source_digests: dict[str, str]) -> dict[str, str]:
    return {f"mirror/{ref}": digest for ref, digest in source_digests.items()}


def _manifest_puts(entries: list[AccessLogEntry]) -> Counter[str]:
    return Counter(
        f"{e.repository}:{e.reference}"
        for e in entries
        if e.method == "PUT" and e.endpoint == "manifests" and e.status == 201
    )


def _start_shards(
    config: Path, tmp_path: Path, forms: list[tuple[dict[str, str], list[str]]]
) -> list[Daemon]:
    return [
        Daemon(config, tmp_path / f"shard-{i}.log", env=env, args=args)
        for i, (env, args) in enumerate(forms)
    ]


def _finish(daemons: list[Daemon]) -> list[str]:
    """Wait for each (one-off) process to end by itself; their logs."""
    for daemon in daemons:
        assert daemon.process.wait(timeout=90) == 0, daemon.text()
        daemon.stop()
    return [daemon.text() for daemon in daemons]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback test URL)
        return str(response.read().decode())


def _shard_summary(text: str) -> tuple[int, int, int]:
    match = SUMMARY.search(text)
    assert match is not None, text
    index, kept, found = (int(g) for g in match.groups())
    return index, kept, found


def _copied_repositories(text: str) -> set[str]:
    return set(re.findall(r"-> 127\.0\.0\.1:\d+/(mirror/[\w/-]+):[\w.]+: copied", text))


@pytest.fixture
def source(source_registry: RegistryServer) -> tuple[RegistryServer, dict[str, str]]:
    return source_registry, seed_repositories(source_registry, [*TEAM, TOOL], TAGS)


def test_three_shards_together_equal_one_process(
    source: tuple[RegistryServer, dict[str, str]],
    registry_factory: RegistryFactory,
    tmp_path: Path,
) -> None:
    registry, digests = source
    single, sharded = registry_factory("single"), registry_factory("sharded")
    expected = _expected(digests)
    assert len(expected) == 134

    alone = run(_config(tmp_path / "single.yaml", registry, single))
    assert alone.returncode == 0, alone.stderr
    assert not re.search(r"shard \d", alone.stderr)

    # The three ways a replica learns its shard: the flag, DREGSY_SHARD, and DREGSY_SHARDS
    # with a StatefulSet pod's host name.
    config = _config(tmp_path / "sharded.yaml", registry, sharded)
    logs = _finish(
        _start_shards(
            config,
            tmp_path,
            [
                ({}, ["-shard=0/3"]),
                ({"DREGSY_SHARD": "1/3"}, []),
                ({"DREGSY_SHARDS": "3", "HOSTNAME": "dregsy-2"}, []),
            ],
        )
    )

    # The union is the single-process sync, digest for digest, and the source's.
    assert target_state(single) == expected
    assert target_state(sharded) == expected
    for ref in ("mirror/team/svc-00:1.0", "mirror/team/svc-65:1.1", f"mirror/{TOOL}:1.0"):
        assert skopeo.digest_of(f"{sharded.host}/{ref}") == expected[ref]

    # Each tag's manifest was pushed exactly once across the three processes.
    puts = _manifest_puts(sharded.requests())
    assert set(puts) == set(expected)
    assert set(puts.values()) == {1}

    # Each process says its shard and share; the shares add up and stay balanced.
    summaries = [_shard_summary(text) for text in logs]
    assert [index for index, _, _ in summaries] == [0, 1, 2]
    assert all(found == 67 for _, _, found in summaries)
    sizes = [kept for _, kept, _ in summaries]
    assert sum(sizes) == 67
    assert max(sizes) <= 1.5 * 67 / 3, sizes
    copied = [_copied_repositories(text) for text in logs]
    assert [len(repos) for repos in copied] == sizes
    assert len(copied[0] | copied[1] | copied[2]) == 67  # pairwise disjoint
    for i, text in enumerate(logs):
        assert f"shard {i}/3" in text.splitlines()[0]  # the start-up line
        assert re.search(
            rf"task mirror: shard {i}/3: {sizes[i] * 2} copied, 0 skipped, 0 failed", text
        )


def test_a_killed_shard_recovers_alone(
    source: tuple[RegistryServer, dict[str, str]],
    target_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    """An Indexed Job's pod is killed half way; its retry finishes its share, and only it."""
    registry, digests = source
    expected = _expected(digests)
    config = _config(tmp_path / "config.yaml", registry, target_registry, parallel=1)

    def job(index: int) -> dict[str, str]:
        return {"DREGSY_SHARDS": "3", "JOB_COMPLETION_INDEX": str(index)}

    _finish(_start_shards(config, tmp_path, [(job(0), []), (job(2), [])]))
    others = _manifest_puts(target_registry.requests())
    others_repos = {ref.rsplit(":", 1)[0] for ref in others}
    mine = {ref for ref in expected if ref.rsplit(":", 1)[0] not in others_repos}
    assert others
    assert mine
    target_registry.clear_requests()

    killed = Daemon(config, tmp_path / "killed.log", env=job(1))
    killed.wait_for(": copied", count=6)
    killed.process.send_signal(signal.SIGKILL)
    assert killed.stop() == -signal.SIGKILL
    time.sleep(0.2)  # a request in flight at the kill is logged by now
    before = _manifest_puts(target_registry.requests())
    assert set(before) <= mine
    assert 6 <= len(before) < len(mine)  # really half way
    target_registry.clear_requests()
    registry.clear_requests()

    again: Result = run(config, env=job(1))
    assert again.returncode == 0, again.stderr

    # The retry pushed what was missing, once each, and touched no other shard's repository.
    after = _manifest_puts(target_registry.requests())
    assert set(after) == mine - set(before)
    assert set(after.values()) == {1}
    mine_repos = {ref.rsplit(":", 1)[0] for ref in mine}
    touched = {e.repository for e in target_registry.requests() if e.repository is not None}
    assert touched <= mine_repos
    read = {e.repository for e in registry.requests() if e.repository is not None}
    assert read == {repo.removeprefix("mirror/") for repo in mine_repos}
    assert f"{len(mine) - len(before)} copied, {len(before)} skipped, 0 failed" in again.stderr
    assert target_state(target_registry) == expected


def test_a_shard_with_no_work_is_no_error(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    digests = seed_repositories(source_registry, [TOOL], TAGS)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: one
    source: {{registry: {source_registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - from: {TOOL}
"""
    )
    results = [run(config, f"-shard={i}/2", env={"LOG_FORMAT": "json"}) for i in range(2)]
    assert [r.returncode for r in results] == [0, 0]
    for i, result in enumerate(results):  # every JSON line names its shard
        assert {json.loads(line)["shard"] for line in result.lines} == {f"{i}/2"}
    summaries = sorted(re.findall(r"shard \d/2: (\d) of 1 repositories", r.stderr) for r in results)
    assert summaries == [["0"], ["1"]]
    idle = next(r for r in results if "0 of 1 repositories" in r.stderr)
    assert "0 copied, 0 skipped, 0 failed" in idle.stderr
    assert target_state(target_registry) == digests
    assert set(_manifest_puts(target_registry.requests()).values()) == {1}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["-shard=3/3"],
            {},
            "dregsy: error: -shard=3/3: shard 3 does not exist: with 3 shard(s), I is 0 to 2",
        ),
        (
            ["-shard=0/0"],
            {},
            "dregsy: error: -shard=0/0: the number of shards N must be at least 1",
        ),
        (["-shard", "two/4"], {}, "dregsy: error: -shard=two/4: expected I/N"),
        ([], {"DREGSY_SHARD": "1-4"}, "dregsy: error: DREGSY_SHARD=1-4: expected I/N"),
        ([], {"DREGSY_SHARDS": "4", "HOSTNAME": "builder"}, "which shard is this?"),
        ([], {"DREGSY_SHARDS": "4", "JOB_COMPLETION_INDEX": "4"}, "shard 4 does not exist"),
    ],
)
def test_a_bad_shard_is_a_usage_error(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "tasks:\n  - name: t\n    source: {registry: 127.0.0.1:9}\n"
        "    target: {registry: 127.0.0.1:9}\n    mappings: [{from: a}]\n"
    )
    result = run(config, *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.lines) == 1


def test_a_bad_target_name_fails_in_its_own_shard_only(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """A listed repository whose target name does not parse fails once, in its shard."""
    repos = TEAM[:9]
    digests = seed_repositories(source_registry, repos, TAGS)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: mirror
    source: {{registry: {source_registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - from: 'regex:team/.*'
        to: 'regex:^/team/svc-0([0-2]),/team/X$1'
"""
    )
    results = [run(config, f"-shard={i}/2") for i in range(2)]
    bad = [f"team/svc-0{i} -> '/team/X{i}'" for i in range(3)]
    for name in bad:  # each reported by exactly one shard
        assert sum(name in r.stderr for r in results) == 1, name
    failed = [int(re.findall(r"(\d+) failed", r.stderr)[-1]) for r in results]
    assert sum(failed) == 3
    assert [r.returncode for r in results] == [1 if n else 0 for n in failed]
    good = {ref: d for ref, d in digests.items() if ref.split(":")[0] not in repos[:3]}
    assert target_state(target_registry) == good
    assert set(_manifest_puts(target_registry.requests()).values()) == {1}


def test_statefulset_replicas_share_periodic_tasks(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """Two long-running replicas named like StatefulSet pods: each run keeps its shard."""
    repos = TEAM[:8]
    digests = seed_repositories(source_registry, repos, TAGS)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: mirror
    interval: 1
    source: {{registry: {source_registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - from: 'regex:team/.*'
"""
    )
    replicas = [
        Daemon(
            config,
            tmp_path / f"dregsy-{i}.log",
            env={"DREGSY_SHARDS": "2", "HOSTNAME": f"dregsy-{i}"},
        )
        for i in range(2)
    ]
    try:
        for replica in replicas:
            replica.wait_for("task mirror: shard", count=2)  # a first run and a second one
    finally:
        statuses = [replica.stop() for replica in replicas]
    assert statuses == [0, 0]
    texts = [replica.text() for replica in replicas]
    kept = [
        int(re.findall(rf"shard {i}/2: (\d) of 8 repositories", t)[0]) for i, t in enumerate(texts)
    ]
    assert sum(kept) == 8
    for i, text in enumerate(texts):  # the second run found everything in place
        assert re.search(
            rf"task mirror: shard {i}/2: 0 copied, {kept[i] * 2} skipped, 0 failed", text
        )
    assert target_state(target_registry) == digests
    assert set(_manifest_puts(target_registry.requests()).values()) == {1}


def test_metrics_status_and_report_carry_the_shard(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    chromium_binary = require_binary(chromium.CHROMIUM)
    seed_repositories(source_registry, TEAM[:8], TAGS)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: mirror
    interval: 3600
    source: {{registry: {source_registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - from: 'regex:team/.*'
"""
    )
    report = tmp_path / "report.json"
    daemon = Daemon(
        config,
        tmp_path / "dregsy.log",
        env={"DREGSY_SHARDS": "2", "HOSTNAME": "dregsy-1"},
        args=["-listen=127.0.0.1:0", f"-report={report}"],
    )
    try:
        base = daemon.endpoint()
        daemon.wait_for("task mirror: shard 1/2:")
        metrics = _get(base + "metrics")
        status = json.loads(_get(base + "api/status"))
        dom = chromium.dump_dom(chromium_binary, base)
        shot = chromium.screenshot(chromium_binary, base, tmp_path / "status.png")
    finally:
        assert daemon.stop() == 0
    kept = int(re.findall(r"shard 1/2: (\d) of 8 repositories", daemon.text())[0])
    assert 'dregsy_shard_info{count="2",index="1"} 1.0' in metrics
    assert status["shard"] == "1/2"
    (state,) = status["tasks"]
    assert (state["last_run"]["repositories"], state["last_run"]["repositories_found"]) == (kept, 8)
    doc = json.loads(report.read_text())
    assert doc["shard"] == "1/2"
    (summary,) = doc["tasks"]
    assert summary["shard"] == "1/2"
    assert (summary["repositories"], summary["repositories_found"]) == (kept, 8)
    assert summary["copied"] == len(doc["images"]) == kept * 2
    assert "<span>shard 1/2</span>" in dom
    assert f"<dt>Shard</dt><dd>1/2: {kept} of 8 repositories</dd>" in dom
    assert shot.stat().st_size > 10_000


def test_a_dry_run_judges_only_its_shard(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    seed_repositories(source_registry, [*TEAM[:8], TOOL], TAGS)
    config = _config(tmp_path / "config.yaml", source_registry, target_registry)
    results = [run(config, "-dry-run", f"-shard={i}/2") for i in range(2)]
    assert [r.returncode for r in results] == [0, 0]
    counts = [
        re.findall(rf"task mirror \(dry run\): shard {i}/2: (\d+) to copy, 0 unchanged", r.stderr)
        for i, r in enumerate(results)
    ]
    assert sum(int(n) for (n,) in counts) == 18  # 9 repositories x 2 tags, split
    assert all(int(n) > 0 for (n,) in counts)
    assert not _manifest_puts(target_registry.requests())
