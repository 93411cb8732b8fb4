"""Registry access-log entries: parsing distribution's Apache combined log lines.

The registry writes one line per request to stdout, e.g.::

    127.0.0.1 - - [29/Nov/2026:04:07:01 +0000] "HEAD /v2/demo/app/manifests/v1 HTTP/1.1" 200 0 ""
    "skopeo/1.9.3"

Each entry also tells which API endpoint it hit (manifests, blobs, uploads, tags, catalog,
base), the repository and the reference, so tests can count e.g. manifest GETs on a source
or blob uploads on a target.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

Endpoint = Literal["base", "catalog", "manifests", "blobs", "uploads", "tags", "other"]

_LINE = re.compile(
    r'^(?P<client>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<uri>\S+) '
    r'[^"]*" (?P<status>\d{3}) (?P<size>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"'
)
_REPO_PATH = re.compile(
    r"^/v2/(?P<repo>.+?)/(?:(?P<uploads>blobs/uploads)(?:/(?P<upload>[^/]*))?"
    r"|(?P<kind>manifests|blobs)/(?P<ref>[^/]+)|(?P<tags>tags/list))$"
)


@dataclass(frozen=True)
class AccessLogEntry:
    """One request as logged by the registry."""

    method: str
    path: str
    """The URI path without the query string (percent-decoded)."""
    query: str
    """The raw query string, empty if none."""
    status: int
    user_agent: str
    user: str | None = None
    size: int = 0

    @property
    def endpoint(self) -> Endpoint:
        """Which registry API endpoint the request hit."""
        return self._split()[0]

    @property
    def repository(self) -> str | None:
        """The repository name for per-repository endpoints."""
        return self._split()[1]

    @property
    def reference(self) -> str | None:
        """The tag or digest for manifests and blobs, the upload UUID for uploads."""
        return self._split()[2]

    @property
    def is_challenge(self) -> bool:
        """Whether this was an authentication challenge (status 401)."""
        return self.status == 401

    def _split(self) -> tuple[Endpoint, str | None, str | None]:
        if self.path in ("/v2", "/v2/"):
            return "base", None, None
        if self.path == "/v2/_catalog":
            return "catalog", None, None
        match = _REPO_PATH.match(self.path)
        if match is None:
            return "other", None, None
        repo = match["repo"]
        if match["uploads"]:
            return "uploads", repo, match["upload"] or None
        if match["tags"]:
            return "tags", repo, None
        kind: Endpoint = "manifests" if match["kind"] == "manifests" else "blobs"
        return kind, repo, match["ref"]


def parse_line(line: str) -> AccessLogEntry | None:
    """Parse one access-log line; None for anything that is not a request line."""
    match = _LINE.match(line)
    if match is None:
        return None
    parts = urlsplit(match["uri"])
    size = match["size"]
    user = match["user"]
    return AccessLogEntry(
        method=match["method"],
        path=unquote(parts.path),
        query=parts.query,
        status=int(match["status"]),
        user_agent=match["agent"],
        user=None if user == "-" else user,
        size=0 if size == "-" else int(size),
    )


def parse_lines(lines: Iterable[str]) -> list[AccessLogEntry]:
    """Parse access-log lines, skipping lines that are not requests."""
    return [entry for line in lines if (entry := parse_line(line)) is not None]


def count(
    entries: Iterable[AccessLogEntry],
    *,
    method: str | None = None,
    endpoint: Endpoint | None = None,
    repository: str | None = None,
    status: int | None = None,
    include_challenges: bool = False,
) -> int:
    """Count entries matching every given filter; 401 challenges only if asked for."""
    return sum(
        1
        for e in entries
        if (method is None or e.method == method)
        and (endpoint is None or e.endpoint == endpoint)
        and (repository is None or e.repository == repository)
        and (status is None or e.status == status)
        and (include_challenges or status == 401 or not e.is_challenge)
    )
