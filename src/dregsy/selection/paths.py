"""Repository paths of a mapping, with dregsy's meaning of `from` and `to`.

- `from: regex:<re>` matches (anchored) every repository a lister returns;
- `to: <path>` is then a prefix (`to: mirror` + `team/a` → `mirror/team/a`), and
  without `to` each repository keeps its path;
- `to: regex:<re>,<replacement>` rewrites the source path, written with a leading `/` as
  dregsy writes it (`/team/a`), with Go's `ReplaceAllString` (`$1` groups, not anchored).
  It also works with a plain `from`.
"""

from __future__ import annotations

import re

from msgspec import Struct

from dregsy.selection.goregex import GoRegexError, anchor, compile_go, replace_all

REGEX_PREFIX = "regex:"


class PathRuleError(ValueError):
    """A `from` or `to` that cannot work; the message is for the user."""


def is_regex(text: str) -> bool:
    return text.strip().startswith(REGEX_PREFIX)


class SourcePattern(Struct, frozen=True):
    """`from: regex:<re>`: the repositories of a source it selects."""

    text: str  # the regex as written
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> SourcePattern:
        """Parse a `from` value that starts with `regex:`."""
        body = text.strip().removeprefix(REGEX_PREFIX).strip()
        if not body:
            raise PathRuleError("'regex:' needs a regular expression, e.g. 'regex:team/.*'")
        try:
            return cls(body, compile_go(anchor(body), written=body))
        except GoRegexError as exc:
            raise PathRuleError(str(exc)) from None

    def matches(self, path: str) -> bool:
        return self.pattern.search(path) is not None

    def __str__(self) -> str:
        return f"{REGEX_PREFIX}{self.text}"


class Rewrite(Struct, frozen=True):
    """`to: regex:<re>,<replacement>`."""

    text: str  # the regex as written
    pattern: re.Pattern[str]
    replacement: str

    @classmethod
    def parse(cls, text: str) -> Rewrite:
        """Parse a `to` value that starts with `regex:`."""
        body = text.strip().removeprefix(REGEX_PREFIX)
        expression, comma, replacement = body.partition(",")
        if not comma:
            raise PathRuleError(
                "the replacement is missing: write 'regex:<expression>,<replacement>', "
                "e.g. 'regex:^/team/(.*),mirror/$1'"
            )
        if not expression.strip():
            raise PathRuleError("'regex:' needs a regular expression before the comma")
        try:
            pattern = compile_go(expression.strip())
        except GoRegexError as exc:
            raise PathRuleError(str(exc)) from None
        return cls(expression.strip(), pattern, replacement.strip())

    def apply(self, path: str) -> str:
        """The target path for `path` (leading and trailing `/` are dropped later)."""
        return replace_all(self.pattern, "/" + path.strip("/"), self.replacement)

    def __str__(self) -> str:
        return f"{REGEX_PREFIX}{self.text},{self.replacement}"


class RepoRule(Struct, frozen=True):
    """A regex mapping: which listed repositories it takes, and where each one goes."""

    source: SourcePattern
    to: str | Rewrite | None = None  # None: same path; str: a prefix

    def target_for(self, path: str) -> str:
        if isinstance(self.to, Rewrite):
            return self.to.apply(path)
        prefix = (self.to or "").strip("/")
        return f"{prefix}/{path.strip('/')}" if prefix else path
