"""The line-tracking YAML reader that the inventory formats share.

PyYAML would silently keep the last of two equal mapping keys, so inventories
are read with a loader that refuses duplicates and remembers the line of every
key and item, for ``file:line`` in error messages. patchtui's own inventory
(``loader.py``), Ansible's YAML inventory (``ansible.py``) and
``inventory show`` (``headless/cmd_inventory.py``) all read through here.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from patchtui.errors import InventoryError
from patchtui.safeyaml import BoundedLoaderMixin, YamlBoundError, open_loader


class LineMap(dict[Any, Any]):
    """A YAML mapping that remembers the 1-based line of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A YAML sequence that remembers the 1-based line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _DuplicateKey(Exception):
    def __init__(self, key: object, first_line: int, second_line: int) -> None:
        self.key = key
        self.first_line = first_line
        self.second_line = second_line
        super().__init__(key)


class InventoryLoader(BoundedLoaderMixin, yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, records lines and stays within bounds."""


def _construct_mapping(loader: InventoryLoader, node: Node) -> LineMap:
    assert isinstance(node, MappingNode)
    # Check the mapping's own keys before merge keys ("<<: *base") are folded
    # in: overriding a merged key is intended, repeating a key is a mistake.
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, str | int | float | bool) and key in seen:
            raise _DuplicateKey(key, seen[key], line)
        if isinstance(key, str | int | float | bool):
            seen[key] = line
    loader.flatten_mapping(node)
    mapping = LineMap()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: InventoryLoader, node: Node) -> LineList:
    assert isinstance(node, SequenceNode)
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


InventoryLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
InventoryLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def read_yaml(text: str, source: str) -> object:
    """Parse ``text`` into ``LineMap``/``LineList`` containers; every error is an
    ``InventoryError`` at ``source:line``."""
    loader: InventoryLoader | None = None
    try:
        loader = open_loader(InventoryLoader, text)
        return loader.get_single_data()
    except _DuplicateKey as dup:
        raise InventoryError(
            f"duplicate key {dup.key!r} (first at line {dup.first_line})",
            where=f"{source}:{dup.second_line}",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # PyYAML splits its message into context ("while scanning a simple
        # key") and problem ("could not find expected ':'"); keep both.
        detail = ", ".join(part for part in (exc.context, exc.problem) if part) or "cannot parse"
        if "block" in detail:
            # PyYAML's block-structure messages are cryptic; the cause is
            # nearly always a line indented differently from its siblings.
            detail += "; check the indentation"
        kind = (
            "YAML error"
            if isinstance(exc, yaml.constructor.ConstructorError | YamlBoundError)
            else "YAML syntax error"
        )
        if mark is None:
            raise InventoryError(f"{kind}: {detail}", where=source) from None
        raise InventoryError(
            f"{kind}: {detail} (column {mark.column + 1})",
            where=f"{source}:{mark.line + 1}",
        ) from None
    except yaml.YAMLError as exc:
        # Reader errors (bad bytes) carry no mark attribute of their own kind.
        first_line = str(exc).splitlines()[0] if str(exc) else "cannot parse"
        raise InventoryError(f"YAML error: {first_line}", where=source) from None
    finally:
        if loader is not None:
            loader.dispose()
