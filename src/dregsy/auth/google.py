"""Google registries (GCR, Artifact Registry): OAuth access tokens from google-auth.

Application default credentials: `GOOGLE_APPLICATION_CREDENTIALS` (a service-account key
file), gcloud's application-default login, else the GCE metadata server. The access token
is the password of the user `oauth2accesstoken` and is fetched again `EXPIRY_MARGIN`
before it expires. google-auth is imported on first use and its calls are blocking, so
they run in a thread.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dregsy.auth.sources import CredentialSource, Renewing, WallClock
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.reference import Registry

if TYPE_CHECKING:
    import google.auth.credentials

log = logging.getLogger(__name__)

GOOGLE_USER = "oauth2accesstoken"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
EXPIRY_MARGIN = 5 * 60.0
DEFAULT_LIFETIME = 3600.0  # when google-auth states no expiry
# Blocking: an access token and its expiry (epoch s), or None when there are no credentials.
TokenFetch = Callable[[], tuple[str, float] | None]
ANONYMOUS_HOLD = 3600.0  # seconds before looking for credentials again after finding none


def is_google_registry(registry: Registry) -> bool:
    """gcr.io, *.gcr.io and *-docker.pkg.dev (Artifact Registry)."""
    name = registry.hostname
    return name == "gcr.io" or name.endswith((".gcr.io", "-docker.pkg.dev"))


class ApplicationDefaultTokens:
    """Access tokens of google-auth's application default credentials (blocking calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: google.auth.credentials.Credentials | None = None

    def __call__(self) -> tuple[str, float] | None:
        import google.auth
        import google.auth.exceptions
        from google.auth.transport.requests import Request

        with self._lock:
            try:
                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
                self._credentials.refresh(Request())  # type: ignore[no-untyped-call]
            except google.auth.exceptions.DefaultCredentialsError:
                return None  # public images (distroless, ...) are pulled anonymously
            except google.auth.exceptions.GoogleAuthError as exc:
                raise CredentialError(f"cannot get a Google access token: {exc}") from None
            token = self._credentials.token
            expiry = self._credentials.expiry  # naive UTC
        if not isinstance(token, str) or not token:
            raise CredentialError("google-auth returned no access token")
        if expiry is None:
            return token, time.time() + DEFAULT_LIFETIME
        return token, float(calendar.timegm(expiry.utctimetuple()))


class GoogleSource(CredentialSource):
    """`oauth2accesstoken` and a Google access token, renewed before it expires."""

    def __init__(self, fetch: TokenFetch, *, clock: WallClock = time.time) -> None:
        self._fetch_token = fetch
        self._clock = clock
        self._renewing = Renewing(self._fetch, clock)

    @property
    def label(self) -> str:
        return "Google application default credentials"

    @property
    def fetches(self) -> int:
        return self._renewing.fetches

    async def get(self) -> Credentials | None:
        return await self._renewing.get()

    def invalidate(self) -> None:
        self._renewing.invalidate()

    async def _fetch(self) -> tuple[Credentials | None, float]:
        found = await asyncio.to_thread(self._fetch_token)
        if found is None:
            log.info(
                "no Google credentials (GOOGLE_APPLICATION_CREDENTIALS, metadata server): "
                "Google registries are accessed anonymously"
            )
            return None, self._clock() + ANONYMOUS_HOLD
        token, expires_at = found
        log.info("got a Google access token (valid for %.0f s)", expires_at - self._clock())
        return Credentials(GOOGLE_USER, token), expires_at - EXPIRY_MARGIN
