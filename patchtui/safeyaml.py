"""YAML from users, read within bounds: no alias bomb, no runaway nesting, no stray exception.

PyYAML's SafeLoader is safe against code execution but not against size:

* aliases share one node, so ``a: &a [x, x]`` ``b: &b [*a, *a]`` ... composes
  into a few nodes, but anything that walks the data (copying ``vars``,
  dumping it as JSON) sees 2**N values: the "billion laughs" document takes
  tens of seconds and then ``MemoryError``;
* the composer and constructor recurse once per nesting level, so 50,000
  ``[`` end in ``RecursionError``;
* the reader checks its text in ``__init__`` (``ReaderError`` for NUL or BEL
  before any ``try`` of a caller), and scalars such as a 5,000-digit integer
  or ``2030-13-45`` raise plain ``ValueError`` from the constructor.

``BoundedLoaderMixin`` counts the values written in the document, the values its
aliases expand to (an alias counts as the whole subtree it names) and its depth
while composing, before anything is built, and turns the constructor's ``ValueError`` into a
``ConstructorError`` with the value's line. ``open_loader`` creates a loader
and reports a reader error as a ``yaml.MarkedYAMLError`` with its line, so a
caller handles every problem of a document in one ``except``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node, ScalarNode

MAX_DEPTH = 100
"""Nesting levels a document may use; real inventories and policies use under ten."""

MAX_NODES = 250_000
"""Values (scalars, lists, mappings) written out in one document. PyYAML is pure Python
and holds each as a node of several hundred bytes: a million take most of a minute and
the better part of a gigabyte, and 64 MiB of ``[a,a,a,...`` would be 30 million. A
25,000-host inventory written out host by host fits; ranges (``web[001:500]``) cost a
few values for any number of hosts."""

MAX_VALUES = 1_000_000
"""Values (scalars, lists, mappings) a document's aliases may expand to, all together.

The values written out in the document cost nothing here (the file's size bounds them);
``<<: *defaults`` on every one of thousands of hosts is well under this, and a "billion
laughs" document is far over it after a few lines."""

MAX_SHOWN = 60
"""Characters of an offending value quoted in an error message."""


class YamlBoundError(yaml.MarkedYAMLError):
    """The document is over one of the bounds above."""


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters for a one-line message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class BoundedLoaderMixin:
    """Mix into a PyYAML loader (before it): depth and expansion bounds, ValueError with a line.

    Uses the loader's composer and constructor methods, so it must precede a
    class that has them (``class L(BoundedLoaderMixin, yaml.SafeLoader)``).
    """

    _bounded_depth: int = 0
    _bounded_values: int = 0
    """Values composed so far, aliases followed (to size each node's subtree)."""
    _bounded_aliased: int = 0
    """Of those, the values that came from following aliases."""
    _bounded_nodes: int = 0
    """Values written out in the document (each alias counts once here)."""
    _bounded_sizes: dict[Node, int]

    def compose_node(self, parent: Node | None, index: object) -> Node:
        loader: Any = self
        if not hasattr(self, "_bounded_sizes"):
            self._bounded_sizes = {}
        if loader.check_event(AliasEvent):
            event = loader.peek_event()
            node: Node = super().compose_node(parent, index)  # type: ignore[misc]
            size = self._bounded_sizes.get(node)
            if size is None:
                # The alias names a node still being composed: a structure that
                # contains itself, which every consumer would walk forever.
                raise YamlBoundError(
                    None, None, f"alias *{event.anchor} refers to itself", event.start_mark
                )
            self._bounded_values += size
            self._bounded_aliased += size
            if self._bounded_aliased > MAX_VALUES:
                raise YamlBoundError(
                    None,
                    None,
                    f"aliases expand to more than {MAX_VALUES:,} values (an alias bomb?)",
                    event.start_mark,
                )
            return node
        mark = loader.peek_event().start_mark
        if self._bounded_depth >= MAX_DEPTH:
            raise YamlBoundError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._bounded_nodes += 1
        if self._bounded_nodes > MAX_NODES:
            raise YamlBoundError(
                None,
                None,
                f"more than {MAX_NODES:,} values in one document (for a large fleet, "
                "write hosts as ranges such as web[001:500])",
                mark,
            )
        before = self._bounded_values
        self._bounded_values += 1
        self._bounded_depth += 1
        try:
            node = super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._bounded_depth -= 1
        self._bounded_sizes[node] = self._bounded_values - before
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except (ValueError, OverflowError) as error:
            # int("9" * 5000), date(2030, 13, 45): PyYAML lets these through bare.
            shown = shorten(str(node.value)) if isinstance(node, ScalarNode) else node.tag
            # Python's advice after the ';' (set_int_max_str_digits) is not for users.
            reason = str(error).split(";")[0]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read value {shown!r}: {reason}", node.start_mark
            ) from None


class BoundedSafeLoader(BoundedLoaderMixin, yaml.SafeLoader):
    """``yaml.SafeLoader`` with the bounds above."""


LoaderT = TypeVar("LoaderT", bound=yaml.SafeLoader)


def open_loader(loader_class: type[LoaderT], text: str) -> LoaderT:
    """``loader_class(text)``; a bad character becomes a ``MarkedYAMLError`` with its line."""
    try:
        return loader_class(text)
    except yaml.reader.ReaderError as error:
        position = max(error.position, 0)
        line = text.count("\n", 0, position)
        column = position - (text.rfind("\n", 0, position) + 1)
        character = error.character
        code = ord(character) if isinstance(character, str) else int(character)
        raise yaml.MarkedYAMLError(
            None,
            None,
            f"unacceptable character #x{code:04x}: control characters are not allowed in YAML",
            yaml.Mark("<input>", position, line, column, None, 0),
        ) from None


def problem_text(error: yaml.YAMLError) -> tuple[str, int | None]:
    """One line describing ``error`` and its 1-based line (None if unknown)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        detail = ", ".join(part for part in (error.context, error.problem) if part)
        return " ".join((detail or "cannot parse").split()), (
            mark.line + 1 if mark is not None else None
        )
    first = str(error).splitlines()[0] if str(error) else "cannot parse"
    return first, None
