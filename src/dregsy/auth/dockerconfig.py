"""Credentials the way Docker finds them: `config.json` auths, credHelpers and credsStore.

The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. For a registry
`credHelpers[host]` names its helper, else `credsStore` is asked; when the helper has
nothing, the `auths` entry for the host is used; with neither, access is anonymous. Keys are
compared by host, so `https://host/v1/` and `host` are the same entry; Docker Hub's key is
`https://index.docker.io/v1/`. Identity tokens (`identitytoken`) are not supported.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from msgspec import Struct, field

from dregsy import jsontext
from dregsy.auth.helper import CredentialHelper, HelperNotFoundError
from dregsy.auth.sources import CredentialSource, Renewing, WallClock
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.fileread import FileReadError, read_limited
from dregsy.reference import DOCKER_HUB, Registry, parse_registry

log = logging.getLogger(__name__)

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
CACHE_SECONDS = 15 * 60.0  # how long a lookup (helper answer or file entry) is reused


def docker_config_path(env: Mapping[str, str]) -> Path | None:
    """`$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`; None without HOME."""
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    home = env.get("HOME")
    return Path(home) / ".docker" / "config.json" if home else None


def host_of_key(key: str) -> str:
    """The registry host an `auths`/`credHelpers` key names (Docker's ConvertToHostname)."""
    text = key.strip()
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    text = text.split("/", 1)[0]
    try:
        return parse_registry(text).host
    except ValueError:
        return text.lower()


def server_url(registry: Registry) -> str:
    """What Docker hands a credential helper for this registry."""
    return DOCKER_HUB_KEY if registry.host == DOCKER_HUB else registry.host


MAX_DOCKER_CONFIG_BYTES = 4 * 1024 * 1024


class DockerConfig(Struct, frozen=True):
    """The credential parts of a Docker `config.json`, keyed by registry host."""

    path: Path
    auths: Mapping[str, Credentials] = field(default_factory=dict)
    helpers: Mapping[str, str] = field(default_factory=dict)
    store: str | None = None

    def __repr__(self) -> str:  # never show the credentials
        return f"DockerConfig(path={str(self.path)!r}, hosts={sorted(self.auths)})"


def read_docker_config(path: Path) -> DockerConfig | None:
    """The parsed file; None when it does not exist. Messages never quote its content."""
    try:
        raw = read_limited(path, MAX_DOCKER_CONFIG_BYTES)
    except FileNotFoundError:
        return None
    except FileReadError as exc:
        raise CredentialError(f"cannot read {path}: {exc.reason}") from None
    except OSError as exc:
        raise CredentialError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = jsontext.loads(raw)
    except jsontext.JSONError:
        raise CredentialError(f"{path} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise CredentialError(f"{path} is not a JSON object")
    auths: dict[str, Credentials] = {}
    entries = doc.get("auths")
    for key, entry in (entries if isinstance(entries, dict) else {}).items():
        credentials = _entry(path, key, entry)
        if credentials is not None:
            auths.setdefault(host_of_key(key), credentials)
    helpers = doc.get("credHelpers")
    store = doc.get("credsStore")
    return DockerConfig(
        path=path,
        auths=auths,
        helpers={
            host_of_key(k): v
            for k, v in (helpers if isinstance(helpers, dict) else {}).items()
            if isinstance(v, str) and v
        },
        store=store if isinstance(store, str) and store else None,
    )


def _entry(path: Path, key: str, entry: object) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    auth: object = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError(f"{path}: auths entry {key!r} is not valid base64") from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise CredentialError(f"{path}: auths entry {key!r} is not 'user:password'")
        return Credentials(username, password)
    user: object = entry.get("username")
    secret: object = entry.get("password")
    if isinstance(user, str) and user and isinstance(secret, str):
        return Credentials(user, secret)
    if entry.get("identitytoken"):
        log.warning("%s: auths entry %r holds an identity token, which is not supported", path, key)
    return None


class DockerConfigSource(CredentialSource):
    """Credentials for one registry from Docker's config file and credential helpers."""

    def __init__(
        self,
        registry: Registry,
        path: Path,
        *,
        search_path: str | None = None,
        clock: WallClock = time.time,
    ) -> None:
        self._registry = registry
        self._path = path
        self._search_path = search_path
        self._label = f"Docker config {path}"
        self._clock = clock
        self._renewing = Renewing(self._fetch, clock)

    @property
    def label(self) -> str:
        return self._label

    async def get(self) -> Credentials | None:
        return await self._renewing.get()

    def invalidate(self) -> None:
        self._renewing.invalidate()

    async def _fetch(self) -> tuple[Credentials | None, float]:
        until = self._clock() + CACHE_SECONDS
        config = read_docker_config(self._path)
        if config is None:
            return None, until
        host = self._registry.host
        helper_name = config.helpers.get(host) or config.store
        if helper_name is not None:
            helper = CredentialHelper(helper_name, self._search_path)
            try:
                credentials = await helper.get(server_url(self._registry))
            except HelperNotFoundError:
                if host in config.helpers:
                    raise  # named for this registry: its absence is an error
                # a credsStore of another machine (a mounted config.json): as if absent
                log.warning("%s: %s is not on PATH; ignoring credsStore", host, helper.program)
                credentials = None
            if credentials is not None:
                self._label = f"credential helper {helper.program}"
                log.debug("%s: credentials from %s", host, helper.program)
                return credentials, until
        credentials = config.auths.get(host)
        if credentials is not None:
            self._label = f"auths entry in {config.path}"
            log.debug("%s: credentials from the auths entry in %s", host, config.path)
        else:
            log.debug("%s: no credentials in %s: anonymous", host, config.path)
        return credentials, until
