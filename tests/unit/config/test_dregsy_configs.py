"""Configs that dregsy 0.5.2 loads load here too; where they are probably not what their
author meant, a warning says so. Where a test stands for a file dregsy ships, it names it
(xelalexv/dregsy at tag 0.5.2); the texts are written here, not copied."""

from __future__ import annotations

import textwrap

import pytest

from dregsy.app import check_config
from dregsy.config.load import parse_config
from dregsy.config.types import Config, RelayKind
from dregsy.errors import ConfigError
from dregsy.selection.filters import KeepFilter, KeepLatest
from tests.unit.config.support import check, only_problem, task

ANON = "eyJ1c2VybmFtZSI6ICJhbm9ueW1vdXMiLCAicGFzc3dvcmQiOiAiYW5vbnltb3VzIn0K"


def load(text: str) -> Config:
    return parse_config(textwrap.dedent(text))


def warned(config: Config) -> list[tuple[str, int | None]]:
    return [(w.path, w.line) for w in config.warnings]


def test_readme_example_with_skopeo_relay_and_a_docker_section() -> None:
    """README.md's first example: `relay: skopeo`, and both relay sections."""
    config = load(
        f"""\
        relay: skopeo
        watch: true
        skopeo:
          binary: skopeo
          certs-dir: /etc/skopeo/certs.d
        docker:
          dockerhost: unix:///var/run/docker.sock
          api-version: 1.41
        lister:
          maxItems: 100
          cacheDuration: 1h
        tasks:
          - name: task1
            interval: 60
            verbose: true
            source:
              registry: source-registry.acme.com
              auth: {ANON}
            target:
              registry: dest-registry.acme.com
              auth: {ANON}
              skip-tls-verify: true
            mappings:
              - from: test/image
                to: archive/test/image
                tags: ['0.1.0', '0.1.1']
              - from: test/another-image
                platform: linux/arm64/v8
        """
    )
    assert config.relay is RelayKind.SKOPEO
    check_config(config)
    (warning,) = config.warnings
    assert (warning.path, warning.line) == ("docker", 6)
    assert "is a setting of the docker relay, but the relay is skopeo" in warning.message


@pytest.mark.parametrize("relay", ["skopeo", "native"])
def test_top_level_api_version_with_another_relay_is_unused(relay: str) -> None:
    config = load(f"relay: {relay}\napi-version: 1.24\n" + task())
    assert config.relay == relay
    assert warned(config) == [("api-version", 2)]


def test_skopeo_section_with_the_docker_relay_is_unused() -> None:
    config = load("relay: docker\nskopeo: {binary: skopeo}\n" + task())
    assert warned(config) == [("skopeo", 2)]


def test_dockerhost_with_skopeo_stays_an_error_as_in_dregsy() -> None:
    """test/fixtures/config/multiple-relays.yaml: dregsy refuses it too."""
    problem = only_problem(
        "relay: skopeo\n\ndockerhost: unix:///var/run/docker.sock\napi-version: 1.24\n"
    )
    check(problem, "dockerhost", 3, "implies the docker relay, but relay is 'skopeo'")


def test_docker_deprecated_fixture_without_tasks_loads() -> None:
    """test/fixtures/config/docker-deprecated.yaml: top-level docker keys, no tasks."""
    config = load("dockerhost: unix:///var/run/docker.sock\napi-version: 1.24\n")
    assert config.relay is RelayKind.DOCKER
    assert config.docker.api_version == "1.24"
    assert config.tasks == ()
    assert [w.message for w in config.warnings] == [
        "there is no 'tasks' list: nothing will be synced"
    ]


@pytest.mark.parametrize(("tasks", "line"), [("tasks:\n", 1), ("tasks: []\n", 1)])
def test_empty_tasks_load_and_warn(tasks: str, line: int) -> None:
    config = load("relay: skopeo\n" + tasks)
    assert config.tasks == ()
    assert [(w.path, w.line) for w in config.warnings] == [("tasks", line + 1)]


@pytest.mark.parametrize("mappings", ["", "[]"])
def test_task_without_mappings_loads_and_warns(mappings: str) -> None:
    config = load(task(mappings=mappings))
    assert config.tasks[0].mappings == ()
    (warning,) = config.warnings
    assert (warning.path, warning.line) == ("tasks[0].mappings", 5)
    assert warning.message == "task 't' has no mappings: it syncs nothing"


def test_task_without_mappings_key() -> None:
    config = load(
        "tasks:\n  - name: t\n    source: {registry: s.io}\n    target: {registry: d.io}\n"
    )
    assert [(w.path, w.line) for w in config.warnings] == [("tasks[0]", 2)]


def test_repeated_task_names_get_labels_by_position() -> None:
    config = load(task() + task().removeprefix("tasks:\n") + task().removeprefix("tasks:\n"))
    assert [t.name for t in config.tasks] == ["t", "t", "t"]
    assert [t.label for t in config.tasks] == ["t", "t#2", "t#3"]
    assert [(w.path, w.line) for w in config.warnings] == [
        ("tasks[1].name", 6),
        ("tasks[2].name", 10),
    ]
    assert "also used by tasks[0]: this task is 't#2' in the log" in config.warnings[0].message


def test_labels_never_collide_with_a_written_name() -> None:
    tasks = [task(name=f"name: {n}").removeprefix("tasks:\n") for n in ("a", "'a#2'", "a")]
    config = load("tasks:\n" + "".join(tasks))
    assert [t.label for t in config.tasks] == ["a", "a#2", "a#3"]


def test_auth_with_username_only() -> None:
    config = load(task(source="{registry: s.io, auth: eyJ1c2VybmFtZSI6ICJhbGV4In0K}"))
    creds = config.tasks[0].source.credentials
    assert creds is not None
    assert (creds.username, creds.password) == ("alex", "")
    assert warned(config) == [("tasks[0].source.auth", 3)]


def test_registry_with_a_path_prefixes_every_repository() -> None:
    config = load(
        task(
            source="{registry: 'registry.hub.docker.com/library'}",
            target="{registry: 'http://127.0.0.1:5000/mirror/hub/'}",
            mappings="[{from: busybox, to: bb}, {from: alpine}]",
        )
    )
    (t,) = config.tasks
    assert str(t.source.registry) == "docker.io"
    assert (t.target.registry.host, t.target.registry.scheme) == ("127.0.0.1:5000", "http")
    assert (t.source.prefix, t.target.prefix) == ("library", "mirror/hub")
    assert [(m.source, m.target) for m in t.mappings] == [
        ("library/busybox", "mirror/hub/bb"),
        ("library/alpine", "mirror/hub/alpine"),
    ]
    assert config.warnings == ()


def test_registry_path_must_be_a_repository_path() -> None:
    check(
        only_problem(task(target="{registry: 'd.io/Upper'}")),
        "tasks[0].target.registry",
        4,
        "the path after the host: invalid repository path 'Upper'",
    )


def test_registry_path_on_the_source_of_a_regex_mapping_is_refused() -> None:
    problem = only_problem(task(source="{registry: 's.io/team'}", mappings="[{from: 'regex:a.*'}]"))
    check(problem, "tasks[0].source.registry", 3, "has a path, and a mapping's 'from' is a regex")


def test_index_lister_without_search_is_fine_while_unused() -> None:
    config = load(task(source="{registry: s.io, lister: {type: index}}"))
    assert warned(config) == [("tasks[0].source.lister", 3)]
    assert "no mapping's 'from' is a regex, so it is not used" in config.warnings[0].message


def test_integer_durations_are_nanoseconds_as_in_dregsy() -> None:
    config = load(
        "lister: {maxItems: 5, cacheDuration: 90}\n"
        + task(
            source="{registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com, auth-refresh: 36000}"
        )
    )
    assert config.lister.cache_duration == pytest.approx(90e-9)
    assert config.tasks[0].source.auth_refresh == 60.0  # the floor
    cache, refresh = config.warnings
    assert (cache.path, cache.line) == ("lister.cacheDuration", 1)
    assert "90 nanoseconds, as dregsy reads it" in cache.message
    assert "write '90s' for 1m30s" in cache.message
    assert (refresh.path, refresh.line) == ("tasks[0].source.auth-refresh", 4)
    assert "36000 nanoseconds" in refresh.message
    assert "raised to 60 s" in refresh.message
    assert "write '36000s' for 10h" in refresh.message


def test_short_auth_refresh_is_raised_to_a_minute() -> None:
    config = load(task(source="{registry: public.ecr.aws, auth-refresh: 10s}"))
    assert config.tasks[0].source.auth_refresh == 60.0
    assert "'10s' is raised to 60 s" in config.warnings[0].message
    long = load(task(source="{registry: public.ecr.aws, auth-refresh: 10h}"))
    assert long.tasks[0].source.auth_refresh == 36000.0
    assert long.warnings == ()


def test_keep_latest_without_space_is_a_keep_regex_with_a_warning() -> None:
    config = load(task(mappings="[{from: a, tags: ['semver: >=1.0.0', 'keep:latest 2']}]"))
    tags = config.tasks[0].mappings[0].tags
    assert tags is not None
    assert isinstance(tags.entries[1], KeepFilter)
    (warning,) = config.warnings
    assert warning.path == "tasks[0].mappings[0].tags[1]"
    assert "write 'keep: latest 2'" in warning.message
    spaced = load(task(mappings="[{from: a, tags: ['semver: >=1.0.0', 'keep: latest 2']}]"))
    entries = spaced.tasks[0].mappings[0].tags
    assert entries is not None
    assert isinstance(entries.entries[1], KeepLatest)
    assert spaced.warnings == ()


def test_docker_relay_digest_without_tag_gets_dregsy_tag_with_a_warning() -> None:
    """e2e/tagsets/docker-digest.yaml."""
    digest = "sha256:" + "1d8a02c7a89283870e8dd6bb93dc66bc258e294491a6bbeb193a044ed88773ea"
    config = load(
        "relay: docker\ndocker: {dockerhost: unix:///var/run/docker.sock}\n"
        + task(mappings=f"[{{from: library/busybox, tags: ['{digest}', 'keep: all.+']}}]")
    )
    check_config(config)
    (warning,) = config.warnings
    assert warning.path == "tasks[0].mappings[0].tags[0]"
    assert f"the tag 'dregsy-{digest[7:]}'" in warning.message


@pytest.mark.parametrize(
    "hub", ["registry.hub.docker.com", "docker.io", "index.docker.io", "registry-1.docker.io"]
)
def test_every_docker_hub_name_is_docker_hub(hub: str) -> None:
    config = load(task(source=f"{{registry: {hub}}}", mappings="[{from: busybox}]"))
    (t,) = config.tasks
    assert (t.source.registry.host, t.source.registry.api_host) == (
        "docker.io",
        "registry-1.docker.io",
    )
    assert t.mappings[0].source == "library/busybox"
    # no catalog on Docker Hub: a regex mapping needs the dockerhub or index lister
    check(
        only_problem(task(source=f"{{registry: {hub}}}", mappings="[{from: 'regex:x/.*'}]")),
        "tasks[0].source",
        3,
        "Docker Hub has no repository catalog",
    )
    listed = load(
        task(
            source=f"{{registry: {hub}, auth: {ANON}, lister: {{type: dockerhub}}}}",
            mappings="[{from: 'regex:x/.*', to: mirror}]",
        )
    )
    assert listed.tasks[0].source.registry.is_docker_hub


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            # test/fixtures/config/docker-valid.yaml
            "docker-valid",
            f"""\
            relay: docker
            docker: {{dockerhost: unix:///var/run/docker.sock, api-version: 1.24}}
            lister: {{maxItems: 50, cacheDuration: 30m}}
            tasks:
            - name: test-docker
              interval: 30
              verbose: true
              source: {{registry: registry.hub.docker.com}}
              target: {{registry: 127.0.0.1:5000, auth: {ANON}, skip-tls-verify: true}}
              mappings:
              - from: library/busybox
                to: docker/library/busybox
                tags: ['1.29.2', '1.29.3', 'latest']
            """,
        ),
        (
            # test/fixtures/config/skopeo-valid.yaml
            "skopeo-valid",
            f"""\
            relay: skopeo
            lister: {{maxItems: 50, cacheDuration: 30m}}
            tasks:
            - name: test-skopeo
              interval: 30
              source: {{registry: registry.hub.docker.com}}
              target: {{registry: 127.0.0.1:5000, auth: {ANON}, skip-tls-verify: true}}
              mappings:
              - from: library/busybox
                to: skopeo/library/busybox
                tags: ['1.29.2', '1.29.3', 'latest']
                platform: linux/arm/v6
            """,
        ),
        (
            # e2e/mapping/skopeo-dh-search.yaml
            "skopeo-dh-search",
            f"""\
            relay: skopeo
            lister: {{maxItems: 50, cacheDuration: 5m}}
            tasks:
            - name: test-search
              source:
                registry: registry.hub.docker.com
                auth: {ANON}
                lister: {{type: index, search: jenkins}}
              target: {{registry: 127.0.0.1:5000, auth: {ANON}, skip-tls-verify: true}}
              mappings:
              - from: regex:jenkins/jnlp-s.*
                to: regex:jenkins/,mapping-skopeo/dh/other-jenkins/
                tags: ["latest"]
            """,
        ),
        (
            # e2e/mapping/docker-dockerhub.yaml
            "docker-dockerhub",
            f"""\
            relay: docker
            docker: {{dockerhost: unix:///var/run/docker.sock}}
            lister: {{maxItems: -1, cacheDuration: -1}}
            tasks:
            - name: test-dockerhub
              source:
                registry: registry.hub.docker.com
                auth: {ANON}
                lister: {{type: dockerhub}}
              target: {{registry: 127.0.0.1:5000, auth: {ANON}, skip-tls-verify: true}}
              mappings:
              - from: regex:xelalex/dregsy-dummy-.*
                to: mapping-docker/dh
                tags: ["latest"]
            """,
        ),
    ],
    ids=lambda v: v if "\n" not in v else "",
)
def test_dregsy_fixtures_load_without_warnings(name: str, text: str) -> None:
    config = load(text)
    check_config(config)
    assert config.warnings == (), name


def test_platform_all_with_docker_stays_refused() -> None:
    """test/fixtures/config/docker-platform-all.yaml: dregsy refuses it too."""
    config = load("relay: docker\n" + task(mappings="[{from: library/busybox, platform: all}]"))
    with pytest.raises(ConfigError, match="platform"):
        check_config(config)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("relay: splunge\n", "relay"),  # invalid-relay.yaml
        (  # mapping-no-from.yaml
            "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n"
            "    registry: registry.hub.docker.com\n  target:\n    registry: localhost:5000\n"
            "  mappings:\n  - from:\n",
            "tasks[0].mappings[0].from",
        ),
        (  # source-no-registry.yaml
            "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n    registry:\n",
            "tasks[0].source.registry",
        ),
        (  # source-not-ecr.yaml
            "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n"
            "    registry: registry.hub.docker.com\n    auth-refresh: 10h\n",
            "tasks[0].source.auth-refresh",
        ),
        ("relay: skopeo\ntasks:\n- name: test\n  interval: -10\n", "tasks[0].interval"),
        ("relay: skopeo\ntasks:\n- interval: 60\n", "tasks[0].name"),  # task-no-name.yaml
        ("relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n", "tasks[0].source"),
    ],
    ids=[
        "invalid-relay",
        "mapping-no-from",
        "source-no-registry",
        "source-not-ecr",
        "task-bad-interval",
        "task-no-name",
        "task-no-source",
    ],
)
def test_what_dregsy_refuses_is_refused(text: str, path: str) -> None:
    """test/fixtures/config/*.yaml that dregsy's config_test.go expects to fail."""
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert path in [p.path for p in info.value.problems]


@pytest.mark.parametrize(
    "source",
    [
        "{registry: 123456789012.dkr.ecr.eu-central-1.amazonaws.com, auth-refresh: 10h}",
        "{registry: public.ecr.aws}",
        "{registry: gcr.io, auth: none}",
        "{registry: us-docker.pkg.dev, auth: none}",
    ],
    ids=["docker-ecr", "ecr-pub-noauth", "gcr-noauth", "gar-noauth"],
)
def test_e2e_base_configs_with_remote_registries_load(source: str) -> None:
    """e2e/base/{docker,skopeo}-{ecr,ecr-pub-noauth,gcr-noauth,gar-noauth}.yaml."""
    config = load(
        "relay: skopeo\n"
        + task(
            source=source,
            target=f"{{registry: 127.0.0.1:5000, auth: {ANON}, skip-tls-verify: true}}",
            mappings="[{from: google_containers/pause, to: base-skopeo/x, tags: ['3.2']}]",
        )
    )
    check_config(config)
    assert config.warnings == ()


@pytest.mark.parametrize("value", ["0", "0s", "'0'"])
def test_zero_auth_refresh_is_raised_to_the_minimum_as_in_dregsy(value: str) -> None:
    config = load(task(source=f"{{registry: public.ecr.aws, auth-refresh: {value}}}"))
    assert config.tasks[0].source.auth_refresh == 60.0
    (warning,) = config.warnings
    assert "raised to 60 s" in warning.message
