"""Go (RE2) regular expressions, as dregsy writes them, run by Python's `re`.

dregsy anchors a tag or `from` regex by adding `^` and `$` when the text does not already
start or end with them (so `a|b` becomes `^a|b$`, as in dregsy), and rewrites `to` paths
with Go's `ReplaceAllString`: `$1`, `${1}`, `$name`, `$$` in the replacement, and no
second replacement for an empty match right after a match. The Go syntax translated here
is `[[:digit:]]`-style classes, `\\z`, `\\Q...\\E`, `(?<name>...)` and `(?i)` flags in the
middle (Python only takes them at the start); the rest of RE2 reads the same in Python
(`\\pL` and `(?U)` do not, and are reported as errors). `\\d`, `\\w`, `\\s` are ASCII, as in Go.
"""

from __future__ import annotations

import re
import warnings

from msgspec import Struct

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_FLAGS_RE = re.compile(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]*)?)\)")
_NAME_CHARS = re.compile(r"\w+")  # a `$name` in a replacement: letters, digits, `_`


class GoRegexError(ValueError):
    """A regex that does not compile."""


def anchor(text: str) -> str:
    """dregsy's `CompileRegex(text, lineMatch=true)`: add `^` and `$` where missing."""
    if not text.startswith("^"):
        text = "^" + text
    if not text.endswith("$"):
        text += "$"
    return text


def compile_go(text: str, *, written: str | None = None) -> re.Pattern[str]:
    """Compile Go regex syntax; raises GoRegexError naming `written` (default: `text`)."""
    try:
        translated = _translate(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(translated, re.ASCII)
    except re.error as exc:
        shown = text if written is None else written
        raise GoRegexError(f"invalid regular expression {shown!r}: {exc.msg}") from None


class Matcher(Struct, frozen=True):
    """dregsy's `util.Regex`: an anchored regex, inverted by a leading `!`."""

    text: str  # as written, `!` included
    pattern: re.Pattern[str]
    inverted: bool = False

    @classmethod
    def parse(cls, text: str) -> Matcher:
        body = text.strip()
        inverted = body.startswith("!")
        if inverted:
            body = body[1:]
        return cls(text.strip(), compile_go(anchor(body), written=body), inverted)

    def matches(self, value: str) -> bool:
        return (self.pattern.search(value) is not None) != self.inverted


def replace_all(pattern: re.Pattern[str], text: str, template: str) -> str:
    """Go's `Regexp.ReplaceAllString(text, template)`."""
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(text[last : match.start()])
        if match.end() > last or match.start() == 0:
            out.append(_expand(match, template))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def _expand(match: re.Match[str], template: str) -> str:
    """Go's `Regexp.Expand`: `$$` is `$`, unknown names expand to nothing."""
    out: list[str] = []
    rest = template
    while True:
        before, dollar, rest = rest.partition("$")
        out.append(before)
        if not dollar:
            return "".join(out)
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        name, after = _template_name(rest)
        if name is None:
            out.append("$")
            continue
        rest = after
        out.append(_group(match, name))


def _template_name(text: str) -> tuple[str | None, str]:
    brace = text.startswith("{")
    body = text[1:] if brace else text
    m = _NAME_CHARS.match(body)
    if m is None:
        return None, text
    name = m.group(0)
    after = body[len(name) :]
    if brace:
        if not after.startswith("}"):
            return None, text
        after = after[1:]
    return name, after


def _group(match: re.Match[str], name: str) -> str:
    if name.isdigit() and len(name) < 9 and not (name[0] == "0" and len(name) > 1):
        number = int(name)
        if number <= (match.re.groups or 0):
            return match.group(number) or ""
        return ""
    if name in match.re.groupindex:
        return match.group(name) or ""
    return ""


def _translate(text: str) -> str:
    out: list[str] = []
    scopes: list[list[str]] = [[]]  # per open group: the `(?flags)` turned into `(?flags:`
    i, n = 0, len(text)
    in_class = False
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            i = _escape(text, i, out, in_class)
        elif in_class:
            i, in_class = _class_item(text, i, out)
        elif char == "[":
            i = _class_start(text, i, out)
            in_class = True
        elif flags := _FLAGS_RE.match(text, i):
            # Go flags last to the end of the group; Python takes them only at the start
            out.append(f"(?{flags.group(1)}:")
            scopes[-1].append(flags.group(1))
            i = flags.end()
        elif char == "(":
            named = text.startswith("(?<", i) and i + 3 < n and text[i + 3] not in "=!"
            out.append("(?P<" if named else "(")
            i += 3 if named else 1
            scopes.append([])
        elif char == ")" and len(scopes) > 1:
            out.append(")" * len(scopes.pop()) + ")")
            i += 1
        elif char == "|":
            opened = scopes[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            i += 1
        else:
            out.append(char)
            i += 1
    out.append(")" * sum(len(s) for s in scopes))
    return "".join(out)


def _escape(text: str, i: int, out: list[str], in_class: bool) -> int:
    following = text[i + 1]
    if following == "Q" and not in_class:
        end = text.find("\\E", i + 2)
        literal = text[i + 2 :] if end < 0 else text[i + 2 : end]
        out.append(re.escape(literal))
        return len(text) if end < 0 else end + 2
    out.append("\\Z" if following == "z" and not in_class else text[i : i + 2])
    return i + 2


def _class_start(text: str, i: int, out: list[str]) -> int:
    out.append("[")
    i += 1
    if text.startswith("^", i):
        out.append("^")
        i += 1
    if text.startswith("]", i):
        out.append("\\]")
        i += 1
    return i


def _class_item(text: str, i: int, out: list[str]) -> tuple[int, bool]:
    """Translate one item inside `[...]`: the next index, and whether the class goes on."""
    if text.startswith("[:", i):
        end = text.find(":]", i + 2)
        if end > 0:
            name = text[i + 2 : end]
            if name not in _POSIX_CLASSES:
                raise re.error(f"unsupported character class [:{name}:]")
            out.append(_POSIX_CLASSES[name])
            return end + 2, True
    char = text[i]
    out.append("\\" + char if char in "[&~|" else char)
    return i + 1, char != "]"
