"""`tags` filters, regex mappings and listers in the config: what they resolve to, and the
errors they give (key path, line, one sentence), before anything runs."""

from __future__ import annotations

import textwrap

import pytest

from dregsy.config.load import parse_config
from dregsy.config.types import ListerKind, ListerSpec
from dregsy.selection.filters import KeepLatest, RegexFilter, SemverFilter, TagRef
from dregsy.selection.paths import RepoRule, Rewrite
from tests.unit.config.support import b64, check, only_problem, problems_of, task

AUTH = b64('{"username": "alice", "password": "secret1"}')


def test_filters_compile_in_order() -> None:
    digest = "sha256:" + "c" * 64
    text = task(
        mappings=f"[{{from: app, tags: ['1.0', 'semver: >=1.2.0', 'regex: !v.*', "
        f"'keep: latest 3', '{digest}', 'v9@{digest}']}}]"
    )
    (mapping,) = parse_config(text).tasks[0].mappings
    assert mapping.tags is not None
    kinds = [type(e) for e in mapping.tags.entries]
    assert kinds == [TagRef, SemverFilter, RegexFilter, KeepLatest, TagRef, TagRef]
    assert mapping.tags.verbatim[1:] == (
        TagRef(digest, digest=digest),
        TagRef(f"v9@{digest}", tag="v9", digest=digest),
    )
    assert mapping.repos is None


def test_empty_tags_mean_every_tag() -> None:
    (mapping,) = parse_config(task(mappings="[{from: app, tags: []}]")).tasks[0].mappings
    assert mapping.tags is None


def test_regex_mapping_with_prefix_and_lister() -> None:
    text = task(
        source=f"{{registry: docker.io, auth: {AUTH}, lister: {{type: dockerhub}}}}",
        mappings="[{from: 'regex:alice/.*', to: mirror}]",
    )
    t = parse_config(text).tasks[0]
    assert t.source.lister == ListerSpec(ListerKind.DOCKERHUB)
    (mapping,) = t.mappings
    assert (mapping.source, mapping.target) == ("regex:alice/.*", "mirror")
    assert isinstance(mapping.repos, RepoRule)
    assert mapping.repos.target_for("alice/app") == "mirror/alice/app"


def test_regex_mapping_with_rewrite() -> None:
    text = task(
        source="{registry: s.io, lister: {type: index, search: team}}",
        mappings="[{from: 'regex:team/.*', to: 'regex:^/team/(.*),/copies/$1'}]",
    )
    t = parse_config(text).tasks[0]
    assert t.source.lister == ListerSpec(ListerKind.INDEX, "team")
    (mapping,) = t.mappings
    assert mapping.target == "regex:^/team/(.*),/copies/$1"
    assert mapping.repos is not None
    assert isinstance(mapping.repos.to, Rewrite)
    assert mapping.repos.target_for("team/a") == "/copies/a"


def test_plain_from_with_rewrite_is_resolved_at_load() -> None:
    text = task(
        source="{registry: docker.io}",
        target="{registry: docker.io}",
        mappings="[{from: busybox, to: 'regex:^/(.*)$,mirror/$1'}]",
    )
    (mapping,) = parse_config(text).tasks[0].mappings
    # dregsy rewrites `/busybox` as written; Docker Hub's `library/` applies to the source only
    assert (mapping.source, mapping.target, mapping.repos) == (
        "library/busybox",
        "mirror/busybox",
        None,
    )


def test_lister_without_regex_mapping_is_not_checked() -> None:
    text = task(source="{registry: docker.io, lister: {type: dockerhub}}")
    assert parse_config(text).tasks[0].source.lister.kind is ListerKind.DOCKERHUB


CASES = [
    (
        "hub-catalog",
        task(source="{registry: docker.io}", mappings="[{from: 'regex:alice/.*'}]"),
        "tasks[0].source",
        3,
        "Docker Hub has no repository catalog",
    ),
    (
        "dockerhub-lister-no-auth",
        task(
            source="{registry: s.io, lister: {type: dockerhub}}", mappings="[{from: 'regex:a/.*'}]"
        ),
        "tasks[0].source",
        3,
        "lister type 'dockerhub' lists the repositories of the 'auth' user",
    ),
    (
        "dockerhub-lister-auth-none",
        task(
            source="{registry: s.io, auth: none, lister: {type: dockerhub}}",
            mappings="[{from: 'regex:a/.*'}]",
        ),
        "tasks[0].source",
        3,
        "set 'auth'",
    ),
    (
        "rewrite-to-invalid-path",
        task(mappings="[{from: a/b, to: 'regex:^/a/(.*),UP/$1'}]"),
        "tasks[0].mappings[0].to",
        5,
        "rewrites 'a/b' to 'UP/b', which is not a valid repository path",
    ),
    (
        "to-regex-bad",
        task(mappings="[{from: 'regex:a/.*', to: 'regex:(,x'}]"),
        "tasks[0].mappings[0].to",
        5,
        "invalid regular expression '('",
    ),
    (
        "from-regex-empty",
        task(mappings="[{from: 'regex:'}]"),
        "tasks[0].mappings[0].from",
        5,
        "needs a regular expression",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_selection_problem(text: str, path: str, line: int, fragment: str) -> None:
    check(only_problem(text), path, line, fragment)


def test_filter_error_names_the_entry_and_its_line() -> None:
    text = textwrap.dedent(
        """\
        tasks:
          - name: t
            source: {registry: s.io}
            target: {registry: d.io}
            mappings:
              - from: a
              - from: b
                tags:
                  - v1
                  - 'semver: >=1.0.0'
                  - 'semver: >=1.0 <2'
                  - 'keep: latest'
        """
    )
    first, second = problems_of(text)
    check(first, "tasks[0].mappings[1].tags[2]", 11, "invalid semver range '>=1.0 <2'")
    check(second, "tasks[0].mappings[1].tags[3]", 12, "'keep: latest' needs a number")
