"""The exception tree of dregsy.

    DregsyError
    ├── ConfigError                 bad config file or CLI usage (exit status 2)
    ├── EndpointError               the HTTP endpoint cannot listen (exit status 2)
    ├── InvalidReferenceError       a registry, repository, tag or digest that does not parse
    ├── RegistryError               anything that went wrong talking to a registry
    │   ├── RegistryUnreachableError    connection, TLS or timeout problems
    │   │   └── BodyBrokeOffError           a response body cut off part way
    │   ├── AuthError                   the token exchange failed
    │   │   └── CredentialError             no credentials from a source (helper, AWS, Google)
    │   ├── RegistryHTTPError           an error status from the registry
    │   │   ├── NotFoundError               404 (manifest, blob or repository unknown)
    │   │   ├── UnauthorizedError           401 after authenticating
    │   │   ├── DeniedError                 403
    │   │   └── RateLimitedError            429
    │   ├── PullQuotaLowError           fewer pulls left than the source's ratelimit.min
    │   ├── DigestMismatchError         content does not hash to its digest
    │   ├── SizeLimitExceededError      a manifest or token larger than we accept
    │   └── UnsupportedManifestError    schema 1 or an unknown media type
    └── RelayError                  a relay (docker, skopeo) could not move an image
        └── RelayUnavailableError       the relay cannot run at all (binary missing, daemon down)

Messages never contain credentials, tokens or Authorization headers.
"""

from __future__ import annotations

from msgspec import Struct


class DregsyError(Exception):
    """Base of every error dregsy raises on purpose."""


class ConfigProblem(Struct, frozen=True):
    """One problem in a config file: where it is and what is wrong."""

    path: str  # key path, e.g. "tasks[1].source.registry"; "" for the whole file
    message: str
    line: int | None = None  # 1-based line in the file, when known

    def __str__(self) -> str:
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.path:
            parts.append(self.path)
        return ": ".join([*parts, self.message])


class ConfigError(DregsyError):
    """The config (or the command line) is invalid; carries every problem found."""

    def __init__(self, problems: list[ConfigProblem] | ConfigProblem | str) -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem("", problems)]
        elif isinstance(problems, ConfigProblem):
            problems = [problems]
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class EndpointError(DregsyError):
    """The HTTP endpoint (`listen`) cannot listen where it was told to."""


class InvalidReferenceError(DregsyError, ValueError):
    """A registry host, repository path, tag or digest is malformed."""


class RegistryError(DregsyError):
    """A registry operation failed."""


class RegistryUnreachableError(RegistryError):
    """The registry could not be reached (DNS, connection, TLS, timeout)."""


class BodyBrokeOffError(RegistryUnreachableError):
    """A response body broke off part way (a GET of it may be asked again)."""


class AuthError(RegistryError):
    """Authentication with a registry or its token service failed."""


class CredentialError(AuthError):
    """A credential source (credential helper, AWS, Google) could not provide credentials."""


class RegistryHTTPError(RegistryError):
    """The registry answered with an error status."""

    def __init__(
        self,
        status: int,
        method: str,
        url: str,
        detail: str = "",
        codes: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.detail = detail
        self.codes = codes
        text = f"{method} {url}: HTTP {status}"
        if detail:
            text += f": {detail}"
        super().__init__(text)

    @property
    def temporary(self) -> bool:
        """Whether trying again later may succeed."""
        return self.status in (408, 429) or self.status >= 500


class NotFoundError(RegistryHTTPError):
    """404: the manifest, blob or repository does not exist."""


class UnauthorizedError(RegistryHTTPError):
    """401 even after authenticating: missing or wrong credentials."""


class DeniedError(RegistryHTTPError):
    """403: the credentials are valid but lack permission."""


class RateLimitedError(RegistryHTTPError):
    """429: too many requests."""


class PullQuotaLowError(RegistryError):
    """A manifest GET would spend a pull while the registry reports fewer left than the
    location's `ratelimit.min`; the image waits and tries again (`dregsy.sync.runner`)."""

    def __init__(self, registry: str, remaining: int, limit: int | None, minimum: int) -> None:
        of = "?" if limit is None else str(limit)
        left = f"{remaining} of {of} pulls left (min {minimum})"
        super().__init__(f"rate limit: {registry} has {left}")
        self.registry = registry


class DigestMismatchError(RegistryError):
    """Content did not hash to the digest it was fetched or pushed under."""


class SizeLimitExceededError(RegistryError):
    """A manifest or token response exceeded a safety bound."""


class UnsupportedManifestError(RegistryError):
    """A manifest of a kind dregsy does not copy (schema 1, unknown media type)."""


class RelayError(DregsyError):
    """A relay failed to move an image."""


class RelayUnavailableError(RelayError):
    """A relay cannot run at all: binary missing, daemon unreachable."""
