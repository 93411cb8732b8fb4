"""Choosing what to sync, end to end: tag filters, digests, regex mappings and listers.

`dregsy -config=...` runs against real registries laid out for each rule; every result is
checked with skopeo. The Docker Hub lister talks to a recorded Hub on 127.0.0.1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from dregsy.config.types import ListerSettings, Location
from dregsy.listers.base import RepositoryLister
from dregsy.listers.cache import RepositoryLists
from dregsy.listers.catalog import CatalogLister
from dregsy.reference import parse_registry
from dregsy.registry.catalog import list_repositories
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.pool import HttpPool, HttpSettings
from tests.support import skopeo
from tests.support.accesslog import count
from tests.support.dregsy_cli import auth_value, run
from tests.support.oci import Image, OciLayout
from tests.support.recorded_hub import HubData, RecordedHub, hub_repository
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages
from tests.support.token_server import TokenServer
from tests.support.users import ALICE

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

APP_TAGS = {  # tag -> which of three small images it points at
    "v1.0.0": "a",
    "v1.2.3": "b",
    "v2.0.0-rc1": "c",
    "2.1": "c",
    "latest": "b",
    "foo": "a",
}


@dataclass(frozen=True)
class Layout:
    path: Path
    images: dict[str, Image]  # "a", "b", "c"


def _layout(path: Path) -> Layout:
    layout = OciLayout(path)
    return Layout(path, {name: layout.add_image(name, layer_sizes=(256,)) for name in "abc"})


def _push(layout: Layout, registry: RegistryServer, refs: dict[str, str], **kw: object) -> None:
    """Push layout image `refs[ref]` to each `repo:tag` ref."""
    for ref, name in refs.items():
        skopeo.push(layout.path, name, f"{registry.host}/{ref}", **kw)  # type: ignore[arg-type]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _tags(registry: RegistryServer, repo: str, **kw: object) -> list[str]:
    return sorted(skopeo.list_tags(f"{registry.host}/{repo}", **kw))  # type: ignore[arg-type]


def test_tag_filters_digests_and_keep(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    layout = _layout(tmp_path / "layout")
    refs = {f"demo/app:{tag}": image for tag, image in APP_TAGS.items()}
    _push(layout, source_registry, {**refs, "demo/pinned:a": "a", "demo/pinned:b": "b"})
    digest = {name: image.digest for name, image in layout.images.items()}
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: select
    source: {{registry: {source_registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - {{from: demo/app, to: sel/semver, tags: ['semver: >=1.2.0 <2.0.0 || >=2.1.0']}}
      - {{from: demo/app, to: sel/regex, tags: ['regex: v1\\..*', 'regex: f.*']}}
      - {{from: demo/app, to: sel/latest, tags: ['keep: latest 2']}}
      - from: demo/app
        to: sel/keep
        tags: ['regex: .*', 'keep: !latest', 'keep: .*[0-9].*', 'foo']
      - {{from: demo/app, to: sel/empty, tags: ['regex: nomatch.*']}}
      - {{from: demo/pinned, to: sel/pinned, tags: ['{digest["a"]}', 'v9@{digest["b"]}']}}
""",
    )
    first = run(config)
    assert first.returncode == 0, first.stderr
    assert "task select: 17 copied, 0 skipped, 0 failed" in first.stderr
    assert "demo/app -> sel/empty: none of its 6 tags is selected: nothing to sync" in first.stderr

    assert _tags(target_registry, "sel/semver") == ["2.1", "v1.2.3", "v2.0.0-rc1"]
    assert _tags(target_registry, "sel/regex") == ["foo", "v1.0.0", "v1.2.3"]
    # the newest two versions (2.1 > 2.0.0-rc1 > 1.2.3), and every non-version tag
    assert _tags(target_registry, "sel/latest") == ["2.1", "foo", "latest", "v2.0.0-rc1"]
    # every keep must match; the verbatim 'foo' is never pruned
    assert _tags(target_registry, "sel/keep") == ["2.1", "foo", "v1.0.0", "v1.2.3", "v2.0.0-rc1"]
    for tag, image in APP_TAGS.items():
        if tag in ("2.1", "v1.2.3"):
            assert skopeo.digest_of(f"{target_registry.host}/sel/semver:{tag}") == digest[image]
    # a digest alone is pushed by digest (no invented tag); name@digest gets the name
    assert _tags(target_registry, "sel/pinned") == ["v9"]
    assert skopeo.digest_of(f"{target_registry.host}/sel/pinned:v9") == digest["b"]
    pinned = f"{target_registry.host}/sel/pinned@{digest['a']}"
    assert skopeo.digest_of(pinned) == digest["a"]
    assert count(target_registry.requests(), method="PUT", repository="sel/empty") == 0
    # verbatim tags and digests need no tag list
    source_log = source_registry.requests()
    assert count(source_log, endpoint="tags", repository="demo/pinned") == 0
    assert count(source_log, endpoint="tags", repository="demo/app") == 5

    target_registry.clear_requests()
    second = run(config)
    assert second.returncode == 0, second.stderr
    assert "task select: 0 copied, 17 skipped, 0 failed" in second.stderr
    assert count(target_registry.requests(), method="PUT") == 0


def test_regex_mappings_over_the_catalog_of_a_token_registry(
    token_registry: RegistryServer,
    token_server: TokenServer,
    target_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path / "layout")
    refs = {"team/a:v1": "a", "team/b:v1": "b", "other/c:v1": "c", "other/c:v2": "a"}
    _push(layout, token_registry, refs, creds=ALICE)
    token_server.clear_requests()
    token_registry.clear_requests()
    config = _write(
        tmp_path / "config.yaml",
        f"""
lister: {{maxItems: 10, cacheDuration: 1h}}
tasks:
  - name: regex
    source: {{registry: {token_registry.host}, auth: {auth_value(*ALICE)}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - {{from: 'regex:team/.*', to: mirror}}
      - from: 'regex:(team|other)/.*'
        to: 'regex:^/(\\w+)/(.*),/copies/$1-$2'
        tags: [v1]
      - {{from: 'regex:nomatch/.*'}}
      - {{from: 'regex:other/.*', to: 'regex:^/other,/UPPER'}}
""",
    )
    result = run(config)
    # the one repository whose rewritten path is invalid fails alone
    assert result.returncode == 1, result.stderr
    assert "task regex: 5 copied, 0 skipped, 1 failed" in result.stderr
    assert "other/c -> '/UPPER/c': invalid repository path" in result.stderr
    assert "none of the 3 repositories listed" in result.stderr
    assert _tags(target_registry, "mirror/team/a") == ["v1"]
    assert _tags(target_registry, "mirror/team/b") == ["v1"]
    for name, image in (("team-a", "a"), ("team-b", "b"), ("other-c", "c")):
        digest = skopeo.digest_of(f"{target_registry.host}/copies/{name}:v1")
        assert digest == layout.images[image].digest, name
    # the catalog was read once for the three mappings, with the catalog scope
    assert count(token_registry.requests(), method="GET", endpoint="catalog") == 1
    scopes = {s for r in token_server.requests for s in r.scopes}
    assert "registry:catalog:*" in scopes


async def test_catalog_lister_pages_and_stops_at_max_items(
    seeded: SeededImages, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = seeded.registry
    location = Location(parse_registry(registry.host))
    pool = HttpPool(HttpSettings(certs_dir=tmp_path))
    client = RegistryDirectory(pool).source(location)
    try:
        registry.clear_requests()
        names = await list_repositories(client, limit=None, page_size=1)
        assert names == ["demo/app", "demo/multi"]
        pages = [e for e in registry.requests() if e.endpoint == "catalog"]
        assert [e.query for e in pages] == ["n=1", "last=demo%2Fapp&n=1"]
        assert await list_repositories(client, limit=1) == ["demo/app"]

        async def make(_: Location) -> RepositoryLister:
            return CatalogLister(client)

        repo_lists = RepositoryLists(make, ListerSettings(max_items=1))
        with caplog.at_level(logging.WARNING):
            assert await repo_lists.repositories(location) == ["demo/app"]
        assert "found more than 1 repositories" in caplog.text
    finally:
        await pool.aclose()


def test_dockerhub_lister_from_recorded_hub(
    source_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    layout = _layout(tmp_path / "layout")
    _push(layout, source_registry, {"alice/app:v1": "a", "alice/tool:v1": "b"})
    data = HubData(
        users={"alice": ALICE[1]},
        repositories={
            "alice": [
                hub_repository("alice", "app"),
                hub_repository("alice", "plugin", repository_type="plugin"),
                hub_repository("alice", "tool", private=True),
            ]
        },
    )
    config = _write(
        tmp_path / "config.yaml",
        f"""
tasks:
  - name: hub
    source:
      registry: {source_registry.host}
      auth: {auth_value(*ALICE)}
      lister: {{type: dockerhub}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - {{from: 'regex:alice/.*', to: mirror}}
""",
    )
    with RecordedHub(data) as hub:
        result = run(config, env={"DREGSY_DOCKERHUB_URL": hub.url})
        assert hub.paths() == ["/v2/users/login", "/v2/repositories/alice/"]
    assert result.returncode == 0, result.stderr
    assert "task hub: 2 copied, 0 skipped, 0 failed" in result.stderr
    assert _tags(target_registry, "mirror/alice/app") == ["v1"]
    assert _tags(target_registry, "mirror/alice/tool") == ["v1"]
    assert ALICE[1] not in result.stderr


def test_malformed_filters_are_config_errors(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "broken.yaml",
        """\
tasks:
  - name: t
    source: {registry: 127.0.0.1:9}
    target: {registry: 127.0.0.1:9}
    mappings:
      - from: a
        tags:
          - 'semver: >=1.2 <2'
          - 'keep: latest'
      - {from: 'regex:a/(', to: 'regex:^/a'}
""",
    )
    result = run(config)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for line, path in (
        (8, "tasks[0].mappings[0].tags[0]: invalid semver range '>=1.2 <2'"),
        (9, "tasks[0].mappings[0].tags[1]: 'keep: latest' needs a number"),
        (10, "tasks[0].mappings[1].from: invalid regular expression 'a/('"),
        (10, "tasks[0].mappings[1].to: the replacement is missing"),
    ):
        assert f"line {line}: {path}" in result.stderr, result.stderr
