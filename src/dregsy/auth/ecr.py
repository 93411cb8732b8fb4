"""AWS ECR credentials: `GetAuthorizationToken`, fetched again before they run out.

Private ECR asks `ecr` in the region of the host name; public ECR asks `ecr-public` (in
us-east-1 unless `<account>:<region>@public.ecr.aws` says otherwise). The token is base64 of
`AWS:<password>` and lasts 12 hours; it is fetched again when `auth-refresh` has passed
and in any case `EXPIRY_MARGIN` before the `expiresAt` AWS states.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from datetime import UTC, datetime

from dregsy.auth.aws import AwsClients, aws_errors, describe_aws_error, ecr_api_region
from dregsy.auth.sources import MIN_HOLD, CredentialSource, Renewing, WallClock
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.reference import Registry

log = logging.getLogger(__name__)

EXPIRY_MARGIN = 10 * 60.0  # fetch anew this long before the token expires
ECR_TOKEN_ACTION = "ecr:GetAuthorizationToken"
ECR_PUBLIC_TOKEN_ACTION = "ecr-public:GetAuthorizationToken"


class EcrSource(CredentialSource):
    """Credentials for one ECR registry from the AWS API, renewed before they expire."""

    def __init__(
        self,
        registry: Registry,
        clients: AwsClients,
        *,
        refresh: float | None = None,
        clock: WallClock = time.time,
    ) -> None:
        self._registry = registry
        self._clients = clients
        self._refresh = refresh
        self._clock = clock
        self._region = ecr_api_region(registry)
        self._public = registry.ecr_region is None
        self._action = ECR_PUBLIC_TOKEN_ACTION if self._public else ECR_TOKEN_ACTION
        self._renewing = Renewing(self._fetch, clock)

    @property
    def label(self) -> str:
        return f"AWS {self._action}"

    @property
    def fetches(self) -> int:
        """How often a token was fetched."""
        return self._renewing.fetches

    async def get(self) -> Credentials | None:
        return await self._renewing.get()

    def invalidate(self) -> None:
        self._renewing.invalidate()

    async def _fetch(self) -> tuple[Credentials | None, float]:
        try:
            token, expires_at = await asyncio.to_thread(self._call)
        except aws_errors() as exc:
            message = describe_aws_error(exc, self._action, self._region)
            raise CredentialError(f"{self._registry}: {message}") from None
        credentials = _decode(token, self._registry)
        now = self._clock()
        until = expires_at - EXPIRY_MARGIN
        if self._refresh is not None:
            until = min(until, now + self._refresh)
        if expires_at <= now:
            log.debug("%s: the ECR token's stated expiry has passed (clock skew?)", self._registry)
        log.info(
            "%s: got ECR credentials from %s (valid until %s)",
            self._registry,
            self._action,
            datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        wait = max(until - now, MIN_HOLD)
        log.debug("%s: next ECR credential refresh in %.0f s", self._registry, wait)
        return credentials, until

    def _call(self) -> tuple[str, float]:
        """The token and its expiry (epoch seconds); blocking."""
        if self._public:
            public = self._clients.ecr_public(self._region).get_authorization_token()
            data = public.get("authorizationData", {})
            token, expires = data.get("authorizationToken"), data.get("expiresAt")
        else:
            private = self._clients.ecr(self._region).get_authorization_token()
            entries = private.get("authorizationData", [])
            first = entries[0] if entries else {}
            token, expires = first.get("authorizationToken"), first.get("expiresAt")
        if not token:
            raise CredentialError(f"{self._registry}: {self._action} returned no token")
        stamp = expires.timestamp() if isinstance(expires, datetime) else self._clock() + 3600
        return token, stamp


def _decode(token: str, registry: Registry) -> Credentials:
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialError(f"{registry}: the ECR token is not valid base64") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise CredentialError(f"{registry}: the ECR token is not 'user:password'")
    return Credentials(username, password)
