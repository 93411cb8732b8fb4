"""Top-level keys: relay contradictions, sections, `lister`, `tasks` itself."""

from __future__ import annotations

import pytest

from tests.unit.config.support import check, only_problem, problems_of

TASKS = """\
tasks:
  - name: t
    source: {registry: s.io}
    target: {registry: d.io}
    mappings: [{from: app}]
"""

CASES = [
    ("relay-unknown", "relay: podman", "relay", 1, "must be one of 'native', 'docker' or 'skopeo'"),
    ("relay-number", "relay: 1", "relay", 1, "must be one of"),
    (
        "skopeo-dockerhost",
        "relay: skopeo\ndockerhost: unix:///run/docker.sock",
        "dockerhost",
        2,
        "implies the docker relay, but relay is 'skopeo'",
    ),
    (
        "native-dockerhost",
        "dockerhost: tcp://d:2375\nrelay: native",
        "dockerhost",
        1,
        "but relay is 'native'",
    ),
    ("dockerhost-empty", "dockerhost: ''", "dockerhost", 1, "must not be empty"),
    ("docker-typo", "docker: {api_version: '1.41'}", "docker.api_version", 1, "'api-version'"),
    ("docker-list", "docker: [a]", "docker", 1, "must be a mapping"),
    ("docker-keep", "docker: {keep-images: 'no'}", "docker.keep-images", 1, "true or false"),
    ("docker-ping-0", "docker: {ping-attempts: 0}", "docker.ping-attempts", 1, "equal to 1"),
    ("docker-ping-s", "docker: {ping-interval: 5s}", "docker.ping-interval", 1, "seconds"),
    ("skopeo-typo", "skopeo: {certs_dir: /c}", "skopeo.certs_dir", 1, "did you mean 'certs-dir'"),
    ("skopeo-binary", "skopeo: {binary: 5}", "skopeo.binary", 1, "must be a string"),
    ("certs-dir", "certs-dir: [a]", "certs-dir", 1, "must be a string, not a list"),
    ("watch-string", "watch: 'true'", "watch", 1, "must be true or false"),
    ("watch-typo", "wacth: true", "wacth", 1, "unknown key 'wacth' (did you mean 'watch'?)"),
    ("lister-max-items", "lister: {maxItems: lots}", "lister.maxItems", 1, "whole number"),
    ("lister-max-float", "lister: {maxItems: 1.5}", "lister.maxItems", 1, "whole number"),
    ("lister-cache-float", "lister: {cacheDuration: 1.5}", "lister.cacheDuration", 1, "unit"),
    ("lister-cache-bad", "lister: {cacheDuration: 1y}", "lister.cacheDuration", 1, "unknown unit"),
    ("lister-typo", "lister: {maxitems: 5}", "lister.maxitems", 1, "did you mean 'maxItems'"),
]


@pytest.mark.parametrize(
    ("top", "path", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_top_level_problem(top: str, path: str, line: int, fragment: str) -> None:
    check(only_problem(top + "\n" + TASKS), path, line, fragment)


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"),
    [
        ("watch: true\ntasks: {name: t}\n", "tasks", 2, "must be a list, not a mapping"),
        ("tasks: [t]\n", "tasks[0]", 1, "must be a mapping"),
    ],
    ids=["mapping", "string-item"],
)
def test_tasks_key(text: str, path: str, line: int, fragment: str) -> None:
    check(only_problem(text), path, line, fragment)


def test_misspelled_tasks_is_hinted_not_reported_missing() -> None:
    check(only_problem("Tasks: []\n"), "Tasks", 1, "unknown key 'Tasks' (did you mean 'tasks'?)")


def test_relay_contradiction_found_while_tasks_are_broken() -> None:
    text = "relay: skopeo\ndockerhost: x\nextra: 1\n" + TASKS.replace("{from: app}", "{}")
    got = [(p.path, p.line) for p in problems_of(text)]
    assert got == [("dockerhost", 2), ("extra", 3), ("tasks[0].mappings[0].from", 8)]
