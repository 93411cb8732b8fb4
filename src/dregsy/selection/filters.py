"""One `tags:` entry each: verbatim tags and digests, and the filters dregsy knows.

| Entry | Unit |
|---|---|
| `1.2.3`, `sha256:<hex>`, `name@sha256:<hex>` | `TagRef` (a verbatim tag or digest) |
| `semver: <range>` | `SemverFilter`: listed tags whose version is in the range |
| `regex: <re>` (`!` inverts) | `RegexFilter`: listed tags the anchored regex matches |
| `keep: <re>` (`!` inverts) | `KeepFilter`: prunes listed tags it does not match |
| `keep: latest <n>` | `KeepLatest`: the newest n semver tags, other tags kept |

`parse_entry` classifies an entry exactly in dregsy's order (semver, regex, keep latest,
keep, verbatim) and raises `TagEntryError` with a sentence for the user.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from msgspec import Struct

from dregsy.digest import is_digest
from dregsy.reference import is_valid_tag
from dregsy.selection.goregex import GoRegexError, Matcher
from dregsy.selection.semrange import SemverRange, parse_range
from dregsy.selection.semver import SemverError, tag_version

SEMVER_PREFIX = "semver:"
REGEX_PREFIX = "regex:"
KEEP_PREFIX = "keep:"
_LATEST_RE = re.compile(r"latest(?:\s+(\S*))?", re.ASCII)


class TagEntryError(ValueError):
    """A `tags:` entry that cannot work; the message is for the user."""


class TagRef(Struct, frozen=True):
    """A tag to copy, or a manifest by digest: `1.2.3`, `sha256:...` or `name@sha256:...`.

    The source is read by digest when there is one; the target gets `tag`, or, with a
    digest only, the manifest is pushed by digest (no tag is invented).
    """

    text: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def listed(cls, tag: str) -> TagRef:
        return cls(tag, tag=tag)


def invented_tag(digest: str) -> str:
    """The tag dregsy's Docker relay gives a digest without a tag: `dregsy-<hex>`."""
    return f"dregsy-{digest.partition(':')[2]}"


class SemverFilter(Struct, frozen=True):
    range: SemverRange

    def selects(self, tag: str) -> bool:
        version = tag_version(tag)
        return version is not None and self.range.matches(version)


class RegexFilter(Struct, frozen=True):
    matcher: Matcher

    def selects(self, tag: str) -> bool:
        return self.matcher.matches(tag)


class KeepFilter(Struct, frozen=True):
    matcher: Matcher

    def keeps(self, tag: str) -> bool:
        return self.matcher.matches(tag)


class KeepLatest(Struct, frozen=True):
    count: int  # 0: no limit (as in dregsy)

    def reduce(self, tags: Sequence[str]) -> list[str]:
        """dregsy's `TagSet.reduce`: the newest `count` semver tags and every other tag,
        or, when no tag is a semver, the last `count` in string order; sorted."""
        versions = [(v, t) for t in tags if (v := tag_version(t)) is not None]
        if not versions:
            ordered = sorted(tags)
            return ordered[max(0, len(ordered) - self.count) :]
        others = [t for t in tags if tag_version(t) is None]
        versions.sort(key=lambda vt: (vt[0].key, vt[1]), reverse=True)
        return sorted(others + [t for _, t in versions[: self.count]])


TagEntry = TagRef | SemverFilter | RegexFilter | KeepFilter | KeepLatest


def parse_entry(raw: str) -> TagEntry:
    """One entry of `tags:`, classified and compiled."""
    text = raw.strip()
    if text.startswith(SEMVER_PREFIX):
        return SemverFilter(_range(text[len(SEMVER_PREFIX) :]))
    if text.startswith(REGEX_PREFIX):
        return RegexFilter(_matcher(text[len(REGEX_PREFIX) :], REGEX_PREFIX))
    if text.startswith(KEEP_PREFIX):
        spaced = text[len(KEEP_PREFIX) :][:1].isspace()
        body = text[len(KEEP_PREFIX) :].strip()
        latest = _LATEST_RE.fullmatch(body)
        if latest is None or (latest.group(1) and not spaced):
            # dregsy's `keep: latest n` needs white space after `keep:`: `keep:latest 5` is
            # a keep regex there, and here (the config loader warns about it)
            return KeepFilter(_matcher(body, KEEP_PREFIX))
        count = latest.group(1)
        if not count or not count.isdecimal():
            raise TagEntryError(
                "'keep: latest' needs a number, e.g. 'keep: latest 5' "
                "(to keep only the tag 'latest', write 'keep: ^latest$')"
            )
        return KeepLatest(int(count))
    return _verbatim(text)


def _range(body: str) -> SemverRange:
    if not body.strip():
        raise TagEntryError("'semver:' needs a range, e.g. 'semver: >=1.2.0 <2.0.0'")
    try:
        return parse_range(body)
    except SemverError as exc:
        raise TagEntryError(
            f"invalid semver range {body.strip()!r}: {exc} "
            "(versions in a range are written in full, e.g. >=1.2.0, without 'v')"
        ) from None


def _matcher(body: str, prefix: str) -> Matcher:
    if body.strip() in ("", "!"):
        raise TagEntryError(f"'{prefix}' needs a regular expression, e.g. '{prefix} ^v1\\..*'")
    try:
        return Matcher.parse(body)
    except GoRegexError as exc:
        raise TagEntryError(str(exc)) from None


def _verbatim(text: str) -> TagRef:
    name, at, digest = text.rpartition("@")
    if at:
        if not is_digest(digest):
            raise TagEntryError(f"{text!r}: {digest!r} is not a digest such as sha256:<64 hex>")
        if not is_valid_tag(name):
            raise TagEntryError(f"{text!r}: {name!r} is not a valid tag to push the digest as")
        return TagRef(text, tag=name, digest=digest)
    if is_digest(text):
        return TagRef(text, digest=text)
    if text.startswith(("sha256:", "sha512:")):
        raise TagEntryError(f"invalid digest {text!r}: expected sha256: and 64 hex digits")
    if not is_valid_tag(text):
        raise TagEntryError(
            f"invalid tag {text!r}: a tag has up to 128 letters, digits, '_', '.' or '-'"
            " and does not start with '.' or '-'"
        )
    return TagRef.listed(text)
