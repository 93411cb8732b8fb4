"""YAML text to plain data, remembering the line of every key and list item.

PyYAML's `safe_load` forgets positions and silently keeps the last of two equal keys, so
this composes the node tree with the SafeLoader and builds the data itself: keys become
their source text (so `1:` or `yes:` are just unknown keys), duplicate keys are issues,
`<<` merge keys work, and aliases are bounded so a hostile file cannot blow up.

The tree is composed by libyaml (PyYAML's C loader) when it is there: a config of a few
hundred mappings takes the pure-Python composer a good part of a short run. A file it
refuses is read again by the Python loader, whose messages the errors are made from.
"""

from __future__ import annotations

import yaml
from msgspec import Struct, field
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dregsy.config.issues import Issue, Loc, format_path
from dregsy.errors import ConfigError, ConfigProblem

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_NODES = 100_000  # values built, counting every use of an alias


class Document(Struct):
    """A parsed file: its data, where each key path is, and structural issues."""

    data: object = None  # None: the file has no document (empty, or only comments)
    lines: dict[Loc, int] = field(default_factory=dict)  # 1-based line of each key or item
    texts: dict[Loc, str] = field(default_factory=dict)  # source text of each plain scalar
    issues: list[Issue] = field(default_factory=list)  # duplicate keys, non-scalar keys


class _Stop(Exception):
    """Building stopped at a node that cannot be turned into data."""

    def __init__(self, message: str, line: int, loc: Loc = ()) -> None:
        super().__init__(message)
        self.problem = ConfigProblem(format_path(loc), message, line)


_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def read_yaml(text: str) -> Document:
    """Parse one YAML document; a syntax error raises ConfigError with its line."""
    if _FAST_LOADER is not None:
        try:
            return _read(_FAST_LOADER(text))
        except (yaml.YAMLError, ConfigError):
            pass  # the same again, for the Python loader's words
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigError(_reader_problem(exc, text)) from None
    return _read(loader)


def _read(loader: yaml.SafeLoader) -> Document:
    doc = Document()
    try:
        root = loader.get_single_node()
        if root is not None:
            doc.lines[()] = root.start_mark.line + 1
            doc.data = _Builder(loader, doc).value(root, ())
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_problem(exc)) from None
    except _Stop as exc:
        raise ConfigError(exc.problem) from None
    except RecursionError:
        raise ConfigError(ConfigProblem("", "the file is nested too deeply")) from None
    finally:
        loader.dispose()
    return doc


def _reader_problem(exc: yaml.reader.ReaderError, text: str) -> ConfigProblem:
    line = text.count("\n", 0, exc.position) + 1
    message = f"invalid YAML: unacceptable character #x{exc.character:04x} ({exc.reason})"
    return ConfigProblem("", message, line)


def _syntax_problem(exc: yaml.MarkedYAMLError) -> ConfigProblem:
    # Only `problem` and `context`: str(exc) quotes the offending line, which may hold a secret.
    problem = exc.problem or "the file is not valid YAML"
    mark = exc.problem_mark or exc.context_mark
    if "end of stream" in problem and exc.context_mark is not None:
        mark = exc.context_mark  # an unclosed quote or bracket: where it was opened
    message = (
        f"invalid YAML: {exc.context}, {problem}" if exc.context else f"invalid YAML: {problem}"
    )
    return ConfigProblem("", message, mark.line + 1 if mark is not None else None)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, doc: Document) -> None:
        self._loader = loader
        self._doc = doc
        self._count = 0
        self._open: set[int] = set()  # ids of the collections being built (alias cycles)

    def value(self, node: Node, loc: Loc) -> object:
        self._count += 1
        line = node.start_mark.line + 1
        if self._count > MAX_NODES:
            raise _Stop(f"the file expands to more than {MAX_NODES} values (aliases?)", line)
        if isinstance(node, ScalarNode):
            if not node.style:  # plain: None from the Python loader, "" from libyaml
                self._doc.texts[loc] = node.value
            try:
                return self._loader.construct_object(node, deep=True)
            except (ValueError, KeyError, AttributeError, TypeError):
                # e.g. `!!int abc`; PyYAML's own message would quote the value
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                raise _Stop(
                    f"invalid YAML: the value does not fit its tag {tag}", line, loc
                ) from None
        if id(node) in self._open:
            raise _Stop("an alias refers to a collection that contains it", line, loc)
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self._item(item, (*loc, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self._mapping(node, loc)
        finally:
            self._open.discard(id(node))

    def _item(self, node: Node, loc: Loc) -> object:
        self._doc.lines[loc] = node.start_mark.line + 1
        return self.value(node, loc)

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, object]:
        out: dict[str, object] = {}
        first: dict[str, int] = {}
        explicit = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for merged in self._merged(value_node):
                    built = self.value(merged, loc)
                    assert isinstance(built, dict)
                    for key, value in built.items():
                        out.setdefault(key, value)
        for key_node, value_node in explicit:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self._doc.issues.append(Issue(loc, "keys must be plain names", line))
                continue
            key = key_node.value
            if key in first:
                message = f"duplicate key '{key}' (first given on line {first[key]})"
                self._doc.issues.append(Issue((*loc, key), message, line))
            first.setdefault(key, line)
            self._doc.lines[(*loc, key)] = line
            out[key] = self.value(value_node, (*loc, key))
        return out

    def _merged(self, node: Node) -> list[MappingNode]:
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        if not all(isinstance(n, MappingNode) for n in nodes):
            raise _Stop("'<<' can only merge mappings", node.start_mark.line + 1)
        return [n for n in nodes if isinstance(n, MappingNode)]
