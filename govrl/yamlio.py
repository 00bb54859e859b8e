"""Bounded, safe YAML loading that remembers where every value came from.

The document is built from the parser's event stream rather than PyYAML's
recursive composer, so nesting depth, alias expansion and size are checked
before they can exhaust the stack or memory. Scalars follow YAML 1.2's core
schema: only ``true``/``false`` are booleans, so ``answer: yes`` stays a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml import events

from govrl.errors import InputError, Problem

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

Location = tuple[str | int, ...]

try:  # libyaml's parser is several times faster; the pure one is equivalent
    _Parser: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Parser = yaml.SafeLoader


class _CoreResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema: no yes/no/on/off booleans, no sexagesimal ints."""


_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:timestamp",
    re.compile(
        r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
        r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$"
    ),
    list("0123456789"),
)

_STR = "tag:yaml.org,2002:str"
_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


class _ScalarConstructor(yaml.constructor.SafeConstructor):
    """SafeConstructor, used only for single scalars, with 1.2-style ints."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        if text.startswith("0o"):
            return int(text[2:], 8)
        return int(text, 0) if text.startswith("0x") else int(text)


# The stubs type add_constructor for the base class only.
_ScalarConstructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:int", _ScalarConstructor.construct_yaml_int
)


@dataclass
class Document:
    """A loaded YAML document and the line (1-based) of every value in it."""

    data: Any
    lines: dict[Location, int] = field(default_factory=dict)
    source: str = "<string>"

    def line_of(self, loc: Location) -> int | None:
        """The line of ``loc`` or of its nearest located ancestor."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


@dataclass
class _Frame:
    container: dict[Any, Any] | list[Any]
    loc: Location
    anchor: str | None
    start_nodes: int
    start_mark: Any
    key: Any = None
    key_line: int = 0
    expecting_key: bool = True


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[Location, int] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Frame] = []
        self.nodes = 0
        self.root: Any = None
        self.resolver = _CoreResolver()
        self.constructor = _ScalarConstructor()

    def fail(self, message: str, mark: Any, loc: Location | None = None) -> InputError:
        line = mark.line + 1 if mark is not None else None
        path = dotted(loc) if loc else None
        return InputError([Problem(message, self.source, line, path)])

    def count(self, n: int, mark: Any) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise self.fail(
                f"document expands to more than {MAX_NODES:,} values "
                "(an alias bomb, or far larger than any assessment)",
                mark,
            )

    def child_loc(self) -> Location:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            return (*top.loc, len(top.container))
        return (*top.loc, top.key) if not top.expecting_key else top.loc

    def place(self, value: Any, mark: Any, size: int, anchor: str | None) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.container, list):
            self.lines.setdefault((*top.loc, len(top.container)), mark.line + 1)
            top.container.append(value)
        elif top.expecting_key:
            if isinstance(value, (dict, list)):
                raise self.fail("a mapping key must be a plain value", mark, top.loc)
            if value in top.container:
                raise self.fail(
                    f"duplicate key {value!r} (first given on line "
                    f"{self.lines.get((*top.loc, value), '?')})",
                    mark,
                    top.loc,
                )
            top.key, top.key_line, top.expecting_key = value, mark.line + 1, False
        else:
            top.container[top.key] = value
            self.lines.setdefault((*top.loc, top.key), top.key_line)
            top.expecting_key = True

    def scalar(self, event: events.ScalarEvent) -> None:
        self.count(1, event.start_mark)
        tag = event.tag
        if tag in (None, "!"):
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit
            )
        if tag not in _ALLOWED_TAGS:
            raise self.fail(f"unsupported YAML tag {tag}", event.start_mark, self.child_loc())
        if tag == _STR:  # most values: no construction needed
            self.place(event.value, event.start_mark, 1, event.anchor)
            return
        marks: tuple[Any, Any] = (event.start_mark, event.end_mark)
        node = yaml.ScalarNode(tag, event.value, *marks, style=event.style)
        try:
            value = self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            raise self.fail(f"bad value {event.value!r}: {exc}", event.start_mark) from None
        self.place(value, event.start_mark, 1, event.anchor)

    def start(self, container: dict[Any, Any] | list[Any], event: Any) -> None:
        if event.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            raise self.fail(f"unsupported YAML tag {event.tag}", event.start_mark)
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
        self.count(1, event.start_mark)
        loc = self.child_loc()
        parent = self.stack[-1] if self.stack else None
        if parent and isinstance(parent.container, dict) and parent.expecting_key:
            raise self.fail("a mapping key must be a plain value", event.start_mark, loc)
        self.stack.append(_Frame(container, loc, event.anchor, self.nodes, event.start_mark))
        if not loc:
            self.lines[()] = event.start_mark.line + 1

    def end(self) -> None:
        frame = self.stack.pop()
        size = self.nodes - frame.start_nodes + 1
        self.place(frame.container, frame.start_mark, size, frame.anchor)

    def alias(self, event: events.AliasEvent) -> None:
        if event.anchor not in self.anchors:
            raise self.fail(f"unknown alias *{event.anchor}", event.start_mark)
        value, size = self.anchors[event.anchor]
        self.count(size, event.start_mark)
        self.place(value, event.start_mark, size, None)


def dotted(loc: Location) -> str:
    """``('evaluation', 'metrics', 3, 'ci_low')`` as ``evaluation.metrics[3].ci_low``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def loads(text: str, source: str = "<string>") -> Document:
    """Parse one YAML document from ``text`` within the size, depth and alias bounds."""
    if len(text) > MAX_BYTES:
        raise InputError([Problem(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", source)])
    builder = _Builder(source)
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_Parser):
            if isinstance(event, events.ScalarEvent):
                builder.scalar(event)
            elif isinstance(event, events.MappingStartEvent):
                builder.start({}, event)
            elif isinstance(event, events.SequenceStartEvent):
                builder.start([], event)
            elif isinstance(event, (events.MappingEndEvent, events.SequenceEndEvent)):
                builder.end()
            elif isinstance(event, events.AliasEvent):
                builder.alias(event)
            elif isinstance(event, events.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise builder.fail(
                        "the file holds more than one YAML document", event.start_mark
                    )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "malformed YAML"
        raise InputError(
            [Problem(f"malformed YAML: {reason}", source, mark.line + 1 if mark else None)]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(f"malformed YAML: {exc}", source)]) from None
    return Document(builder.root, builder.lines, source)


def read_bounded(path: Path) -> bytes:
    """The bytes of ``path``, refusing an oversized file before reading it whole."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(
                [Problem(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", str(path))]
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", str(path))]) from None


def load(path: Path) -> Document:
    """Read and parse ``path``, refusing oversized files before reading them whole."""
    raw = read_bounded(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(f"not UTF-8 text (byte {exc.start})", str(path))]) from None
    return loads(text, str(path))
