"""ECR repositories: a missing target repository is created before the first push.

ECR, unlike most registries, does not create a repository on push. For each target
repository of a task run this asks `DescribeRepositories` and, when the repository is
unknown, `CreateRepository` (private ECR), or the same in `ecr-public` (public ECR, where
the first path segment of a target is the registry alias and not part of the name).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from dregsy.auth.aws import (
    AwsClients,
    aws_errors,
    describe_aws_error,
    ecr_account,
    ecr_api_region,
)
from dregsy.reference import Registry

log = logging.getLogger(__name__)

PARALLEL_CALLS = 4  # AWS API calls in flight per task run
_NOT_FOUND = "RepositoryNotFoundException"
_EXISTS = "RepositoryAlreadyExistsException"


def ecr_repository_name(registry: Registry, path: str) -> str:
    """The repository's name in the ECR API (public ECR drops the alias segment)."""
    if registry.ecr_region is None and "/" in path:
        return path.split("/", 1)[1]
    return path


class EcrRepositories:
    """Makes sure target repositories exist in an ECR registry."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    async def ensure(self, registry: Registry, paths: Iterable[str]) -> dict[str, str]:
        """Create the missing ones; returns a failure message per path that failed."""
        slots = asyncio.Semaphore(PARALLEL_CALLS)
        failures: dict[str, str] = {}

        async def one(path: str) -> None:
            async with slots:
                failure = await asyncio.to_thread(self._ensure, registry, path)
            if failure is not None:
                failures[path] = failure

        await asyncio.gather(*(one(path) for path in sorted(set(paths))))
        return failures

    def _ensure(self, registry: Registry, path: str) -> str | None:
        """Blocking: describe, then create when missing; a failure message or None."""
        from botocore.exceptions import ClientError

        name = ecr_repository_name(registry, path)
        region = ecr_api_region(registry)
        service = "ecr" if registry.ecr_region is not None else "ecr-public"
        action = f"{service}:DescribeRepositories"
        try:
            if self._exists(registry, region, name):
                return None
            action = f"{service}:CreateRepository"
            self._create(registry, region, name)
        except ClientError as exc:
            if action.endswith("CreateRepository") and _code(exc) == _EXISTS:
                return None  # created meanwhile by someone else
            return describe_aws_error(exc, action, region)
        except aws_errors() as exc:
            return describe_aws_error(exc, action, region)
        log.info("%s: created ECR repository %s", registry, name)
        return None

    def _exists(self, registry: Registry, region: str, name: str) -> bool:
        from botocore.exceptions import ClientError

        account = ecr_account(registry)
        try:
            if registry.ecr_region is not None and account is not None:
                self._clients.ecr(region).describe_repositories(
                    registryId=account, repositoryNames=[name]
                )
            elif account is not None:
                self._clients.ecr_public(region).describe_repositories(
                    registryId=account, repositoryNames=[name]
                )
            else:
                self._clients.ecr_public(region).describe_repositories(repositoryNames=[name])
        except ClientError as exc:
            if _code(exc) == _NOT_FOUND:
                return False
            raise
        return True

    def _create(self, registry: Registry, region: str, name: str) -> None:
        account = ecr_account(registry)
        if registry.ecr_region is not None and account is not None:
            self._clients.ecr(region).create_repository(registryId=account, repositoryName=name)
        else:
            self._clients.ecr_public(region).create_repository(repositoryName=name)


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    code = error.get("Code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None
