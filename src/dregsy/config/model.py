"""The config file's shape: dregsy's YAML keys as strict pydantic models.

Unknown keys are errors (`extra="forbid"`), scalars are strict (`interval: true` or
`verbose: "no"` are not coerced), and dashed keys are aliases. Files are validated with
`by_name=False`, so `auth_refresh` in a file is an unknown key, not a synonym.
These models only describe the file; `dregsy.config.resolve` turns them into the frozen
dataclasses of `dregsy.config.types`.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from dregsy.config.fields import (
    AuthField,
    CacheDurationField,
    IntervalField,
    PlatformField,
    PlatformsField,
    RefreshField,
    RegistryField,
    SourceField,
    TagField,
    TargetField,
    problem,
    rewritten_path,
)
from dregsy.credentials import Credentials
from dregsy.selection.paths import Rewrite, SourcePattern

_T = TypeVar("_T")

Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1)]


def _non_empty(items: tuple[_T, ...]) -> tuple[_T, ...]:
    if not items:
        raise problem("must not be empty")
    return items


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DockerSection(_Model):
    """`docker:`: the Docker relay's daemon."""

    dockerhost: Text | None = None
    api_version: Text | None = Field(None, alias="api-version")
    keep_images: StrictBool = Field(False, alias="keep-images")
    ping_attempts: StrictInt | None = Field(None, alias="ping-attempts", ge=1)
    ping_interval: IntervalField | None = Field(None, alias="ping-interval")


class SkopeoSection(_Model):
    """`skopeo:`: the skopeo relay."""

    binary: Text | None = None
    certs_dir: Text | None = Field(None, alias="certs-dir")


class GlobalLister(_Model):
    """Top-level `lister:`: repository listing for regex mappings."""

    max_items: StrictInt | None = Field(None, alias="maxItems")
    cache_duration: CacheDurationField | None = Field(None, alias="cacheDuration")


class LocationLister(_Model):
    """A location's `lister:`: how to list the source's repositories."""

    type: Literal["catalog", "dockerhub", "index"]
    search: Text | None = None

    @model_validator(mode="after")
    def _index_needs_search(self) -> LocationLister:
        if self.type == "index" and self.search is None:
            raise problem("is required when type is 'index'", key="search")
        return self


class LocationModel(_Model):
    """`source:` or `target:`."""

    registry: RegistryField
    auth: AuthField | None = None
    auth_refresh: RefreshField | None = Field(None, alias="auth-refresh")
    skip_tls_verify: StrictBool = Field(False, alias="skip-tls-verify")
    lister: LocationLister | None = None
    max_connections: StrictInt | None = Field(None, alias="max-connections", ge=1, le=256)

    @model_validator(mode="after")
    def _refresh_needs_ecr(self) -> LocationModel:
        if self.auth_refresh is not None and not self.registry.is_ecr:
            message = f"only works with AWS ECR registries, and '{self.registry}' is not one"
            raise problem(message, key="auth-refresh")
        return self


class MappingModel(_Model):
    """One entry of `mappings:`."""

    from_: SourceField = Field(alias="from")
    to: TargetField | None = None
    tags: tuple[TagField, ...] | None = None
    platform: PlatformField | None = None
    platforms: PlatformsField | None = None

    @model_validator(mode="after")
    def _rewrite_gives_a_path(self) -> MappingModel:
        if isinstance(self.from_, str) and isinstance(self.to, Rewrite):
            rewritten_path(self.from_, self.to, key="to")
        return self

    @model_validator(mode="after")
    def _one_platform_key(self) -> MappingModel:
        if self.platform is not None and self.platforms:
            raise problem("cannot be used together with 'platform'", key="platforms")
        return self


class TaskModel(_Model):
    """One entry of `tasks:`."""

    name: Text
    interval: IntervalField = 0.0
    verbose: StrictBool = False
    source: LocationModel
    target: LocationModel
    mappings: Annotated[tuple[MappingModel, ...], AfterValidator(_non_empty)]

    @model_validator(mode="after")
    def _regex_mappings_can_list(self) -> TaskModel:
        if not any(isinstance(m.from_, SourcePattern) for m in self.mappings):
            return self
        kind = self.source.lister.type if self.source.lister else "catalog"
        if kind == "catalog" and self.source.registry.is_docker_hub:
            message = (
                "Docker Hub has no repository catalog for regex mappings: set "
                "'lister: {type: dockerhub}' (the repositories of the 'auth' user) or "
                "'lister: {type: index, search: ...}'"
            )
            raise problem(message, key="source")
        if kind == "dockerhub" and not isinstance(self.source.auth, Credentials):
            message = (
                "lister type 'dockerhub' lists the repositories of the 'auth' user: set 'auth'"
            )
            raise problem(message, key="source")
        return self


class TopModel(_Model):
    """Every top-level key except `tasks` (validated alone when some task is broken)."""

    relay: Literal["native", "docker", "skopeo"] | None = None
    dockerhost: Text | None = None  # deprecated seed key
    api_version: Text | None = Field(None, alias="api-version")  # deprecated seed key
    docker: DockerSection | None = None
    skopeo: SkopeoSection | None = None
    certs_dir: Text | None = Field(None, alias="certs-dir")
    watch: StrictBool = False
    lister: GlobalLister | None = None
    parallel: StrictInt | None = Field(None, ge=1, le=256)


class ConfigModel(TopModel):
    """A whole config file."""

    tasks: Annotated[tuple[TaskModel, ...], AfterValidator(_non_empty)]
