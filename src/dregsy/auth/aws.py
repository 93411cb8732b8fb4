"""AWS API access for ECR: boto3 clients made on first use, and AWS errors in plain words.

boto3 is imported only when an ECR location is used (it costs start-up time). Clients
come from one boto3 Session per run, so the standard AWS chain applies: environment
variables, `AWS_PROFILE` and the shared files, container and instance roles, and
`AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_ECR`) for another endpoint. Calls are blocking,
so callers run them with `asyncio.to_thread`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dregsy.reference import Registry

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.config import Config
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr_public import ECRPublicClient

ECR_PUBLIC_REGION = "us-east-1"  # the ECR Public API lives there
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_ATTEMPTS = 3  # botocore's "standard" retry mode, on throttling and 5xx
_DENIED_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
_CREDENTIAL_CODES = (
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
)


def ecr_api_region(registry: Registry) -> str:
    """The region whose ECR API serves `registry` (private: from the host name)."""
    region = registry.ecr_region
    if region is not None:
        return region
    alias = registry.ecr_public_alias or ""
    return alias.partition(":")[2] or ECR_PUBLIC_REGION


def ecr_account(registry: Registry) -> str | None:
    """The AWS account of an ECR registry: from the host, or `<account>@public.ecr.aws`."""
    if registry.ecr_region is not None:
        return registry.hostname.split(".", 1)[0]
    alias = registry.ecr_public_alias
    return alias.partition(":")[0] if alias else None


class AwsClients:
    """boto3 ECR clients per region, made on first use and shared (they are thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # boto3 sessions are not safe to share while creating
        self._session: Session | None = None
        self._ecr: dict[str, ECRClient] = {}
        self._ecr_public: dict[str, ECRPublicClient] = {}

    def ecr(self, region: str) -> ECRClient:
        with self._lock:
            client = self._ecr.get(region)
            if client is None:
                client = self._ecr[region] = self._new_session().client(
                    "ecr", region_name=region, config=_config()
                )
            return client

    def ecr_public(self, region: str) -> ECRPublicClient:
        with self._lock:
            client = self._ecr_public.get(region)
            if client is None:
                client = self._ecr_public[region] = self._new_session().client(
                    "ecr-public", region_name=region, config=_config()
                )
            return client

    def _new_session(self) -> Session:
        if self._session is None:
            from boto3.session import Session

            self._session = Session()
        return self._session


def _config() -> Config:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )


def aws_errors() -> tuple[type[Exception], ...]:
    """The exceptions a boto3 call raises for AWS trouble (imported lazily)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def describe_aws_error(exc: Exception, action: str, region: str) -> str:
    """`exc` from calling `action` (e.g. `ecr:GetAuthorizationToken`) as one sentence."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError):
        return (
            f"{action}: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance or task role)"
        )
    if isinstance(exc, PartialCredentialsError | NoRegionError):
        return f"{action}: {exc}"
    if isinstance(exc, EndpointConnectionError):
        return f"{action}: cannot reach the AWS API of region {region!r} (unknown region?)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "unknown")
        message = error.get("Message", "")
        if code in _DENIED_CODES:
            return f"{action}: AWS denied access, the IAM policy must allow {action}: {message}"
        if code in _CREDENTIAL_CODES:
            return f"{action}: AWS rejected the credentials ({code}): {message}"
        return f"{action}: AWS error {code}: {message}"
    return f"{action}: {exc}"
