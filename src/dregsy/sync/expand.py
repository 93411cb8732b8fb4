"""From a mapping to what a run copies: its repositories, then each one's tags and digests.

A plain mapping has one repository pair; a `from: regex:...` mapping has one per listed
repository it matches. Tags are listed only when the mapping's selection needs the list.
A tag reference becomes a (source, target) reference pair as dregsy joins them: a digest
is read by digest, and pushed under its tag, or by digest when it has none.
"""

from __future__ import annotations

import logging

from msgspec import Struct

from dregsy.config.types import Mapping, Task
from dregsy.errors import DregsyError, InvalidReferenceError, NotFoundError
from dregsy.listers.cache import RepositoryLists
from dregsy.reference import Reference, Repository
from dregsy.referrers import is_referrer_tag
from dregsy.registry import tags
from dregsy.registry.client import RegistryClient
from dregsy.registry.tags import MAX_TAGS
from dregsy.selection.filters import TagRef, invented_tag
from dregsy.selection.tagset import EVERY_TAG

log = logging.getLogger(__name__)


class UnmappableRepository(DregsyError):
    """A listed repository whose target path does not parse (it fails alone); `path` is
    the source repository's (normalised, as in `RepoPair.source.path`, when it parses)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class RepoPair(Struct, frozen=True):
    """One source repository and where it goes."""

    source: Repository
    target: Repository


async def repository_pairs(
    task: Task, mapping: Mapping, lists: RepositoryLists | None
) -> list[RepoPair | UnmappableRepository]:
    """The mapping's repository pairs; a listed repository whose target path does not
    parse is an error in the list (it fails alone); a failed listing raises."""
    rule = mapping.repos
    if rule is None:
        source = task.source.registry.repository(mapping.source)
        return [RepoPair(source, task.target.registry.repository(mapping.target))]
    if lists is None:
        raise DregsyError("regex mappings need a repository lister, and none is set up")
    listed = await lists.repositories(task.source)
    pairs: list[RepoPair | UnmappableRepository] = []
    for path in listed:
        if not rule.source.matches(path):
            continue
        target_path = rule.target_for(path)
        if task.target.prefix:  # `registry: host/path`: a prefix of every repository
            target_path = f"{task.target.prefix}/{target_path.strip('/')}"
        unit = path  # the shard key: the source path, normalised as a RepoPair's once parsed
        try:
            from_repo = task.source.registry.repository(path)
            unit = from_repo.path
            to_repo = task.target.registry.repository(target_path)
        except InvalidReferenceError as exc:
            pairs.append(UnmappableRepository(unit, f"{path} -> {target_path!r}: {exc}"))
            continue
        pairs.append(RepoPair(from_repo, to_repo))
    if not pairs:
        log.warning(
            "mapping %s: none of the %d repositories listed on %s matches: nothing to sync",
            mapping.source,
            len(listed),
            task.source.registry,
        )
    return pairs


async def tag_refs(
    client: RegistryClient, repos: RepoPair, mapping: Mapping, *, max_tags: int = MAX_TAGS
) -> list[TagRef]:
    """The tags and digests of a repository the mapping selects (listing tags if needed)."""
    selection = mapping.tags or EVERY_TAG
    listed = None
    if selection.needs_listing:
        try:
            listed = await tags.list_tags(client, repos.source, max_tags=max_tags)
        except NotFoundError as exc:
            raise DregsyError(f"cannot list tags of {repos.source}: {exc}") from exc
        if mapping.referrers.enabled:
            # Fallback and cosign tags travel with their images (a copy of their own would
            # overwrite the target's merged referrers index).
            listed = [tag for tag in listed if not is_referrer_tag(tag)]
    refs = selection.select(listed)
    if not refs and not listed:
        log.warning("%s has no tags: nothing to sync", repos.source)
    elif not refs:
        log.warning(
            "%s -> %s: none of its %d tags is selected: nothing to sync",
            repos.source,
            repos.target.path,
            len(listed or ()),
        )
    return refs


def references(
    ref: TagRef, source: Repository, target: Repository, *, by_digest: bool = True
) -> tuple[Reference, Reference]:
    """dregsy's `JoinRefsAndTag`: read a digest by digest; push under the tag if any, else
    by digest, or, for a relay that cannot push by digest (`by_digest=False`, the Docker
    daemon), under dregsy's tag `dregsy-<hex>`."""
    if ref.digest is None:
        assert ref.tag is not None
        return source.tag(ref.tag), target.tag(ref.tag)
    if ref.tag is not None:
        pushed = target.tag(ref.tag)
    elif by_digest:
        pushed = target.digest(ref.digest)
    else:
        pushed = target.tag(invented_tag(ref.digest))
    return source.digest(ref.digest), pushed
