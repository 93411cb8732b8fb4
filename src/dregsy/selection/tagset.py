"""A mapping's `tags:` as one selection, applied as dregsy's `TagSet.Expand` applies it.

Entries are ORed: the listed tags that some `semver:` or `regex:` entry selects (or every
listed tag, when there is neither), pruned by every `keep: <re>`, plus the verbatim tags
and digests, which are never pruned; then `keep: latest n` (the last one wins) cuts the
semver tags, verbatim ones included, to the newest n. The result is sorted by name, each
tag once. The registry's tag list is only needed when some entry filters it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from msgspec import Struct

from dregsy.selection.filters import (
    KeepFilter,
    KeepLatest,
    RegexFilter,
    SemverFilter,
    TagEntry,
    TagRef,
    parse_entry,
)


class TagSelection(Struct, frozen=True):
    """The compiled `tags:` of a mapping; no entries: every tag."""

    entries: tuple[TagEntry, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> TagSelection:
        """Compile entries; raises TagEntryError for the first bad one."""
        return cls(tuple(parse_entry(text) for text in texts))

    @property
    def verbatim(self) -> tuple[TagRef, ...]:
        return tuple(e for e in self.entries if isinstance(e, TagRef))

    @property
    def selectors(self) -> tuple[SemverFilter | RegexFilter, ...]:
        return tuple(e for e in self.entries if isinstance(e, SemverFilter | RegexFilter))

    @property
    def keeps(self) -> tuple[KeepFilter, ...]:
        return tuple(e for e in self.entries if isinstance(e, KeepFilter))

    @property
    def latest(self) -> KeepLatest | None:
        """The effective `keep: latest n`: the last one; None also for `latest 0`."""
        counts = [e for e in self.entries if isinstance(e, KeepLatest)]
        return counts[-1] if counts and counts[-1].count > 0 else None

    @property
    def needs_listing(self) -> bool:
        """Whether the source's tag list is needed (not for verbatim tags and digests only)."""
        return bool(self.selectors) or not self.verbatim

    def select(self, listed: Sequence[str] | None) -> list[TagRef]:
        """The tags and digests to copy, given the source's tags (None if not listed)."""
        chosen: dict[str, TagRef] = {}
        if self.needs_listing:
            if listed is None:
                raise ValueError("this selection needs the repository's tag list")
            selectors = self.selectors
            keeps = self.keeps
            for tag in listed:
                if selectors and not any(s.selects(tag) for s in selectors):
                    continue
                if all(k.keeps(tag) for k in keeps):
                    chosen.setdefault(tag, TagRef.listed(tag))
        for ref in self.verbatim:
            if ref.tag is not None and ref.digest is not None:
                chosen.pop(ref.tag, None)  # `stable@sha256:...` pins the target tag `stable`
            chosen.setdefault(ref.text, ref)
        latest = self.latest
        names = latest.reduce(list(chosen)) if latest is not None else sorted(chosen)
        return [chosen[name] for name in names]


EVERY_TAG = TagSelection()
