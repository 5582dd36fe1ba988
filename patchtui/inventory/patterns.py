"""``--limit`` host patterns, with Ansible's semantics.

A pattern is a list of terms separated by ``,`` or ``:``. A term starting with
``&`` intersects, one starting with ``!`` excludes; ``&`` and ``!`` also start
a new term inside a list item, so ``prod&web`` means ``prod,&web``.

Each term (without its prefix) is one of:

* ``all`` or ``*`` - every host;
* ``key=value`` - hosts whose label ``key`` matches ``value`` (a glob:
  ``role=web*``);
* a group name - the group's hosts;
* a host name;
* a glob (``web*``, ``db0[1-3]``) - hosts whose name matches, plus the hosts
  of every group whose name matches.

Evaluation: the union of the plain terms (``all`` if there are none, so
``!db*`` means "everything but db*"), then intersected with each ``&`` term,
then minus each ``!`` term. Hosts come back in inventory order.

To keep a typo from widening or narrowing a patch run, every term must match
at least one host on its own (an exclusion of ``prdo`` is an error, not a
no-op) and the whole pattern must select at least one host.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from patchtui.errors import PatternError
from patchtui.inventory.model import Host, Inventory

Operator = Literal["union", "intersect", "exclude"]
_GLOB_CHARS = ("*", "?", "[")
_SPLIT = re.compile(r"[,:]")
# Split before each & or ! so "prod&web!db01" becomes "prod", "&web", "!db01".
_OPERATOR_SPLIT = re.compile(r"(?=[&!])")


@dataclass(frozen=True)
class PatternTerm:
    operator: Operator
    text: str
    """The term without its & or ! prefix."""

    def __str__(self) -> str:
        prefix = {"union": "", "intersect": "&", "exclude": "!"}[self.operator]
        return f"{prefix}{self.text}"


def is_all(pattern: str | None) -> bool:
    """True for the patterns that mean every host: None (no --limit), 'all', '*'.

    An empty or blank pattern is not one of them: it is what ``-l "$UNSET"``
    gives, and treating it as "every host" would patch the whole fleet.
    """
    return pattern is None or pattern.strip() in ("all", "*")


def parse_pattern(pattern: str) -> list[PatternTerm]:
    """Split ``pattern`` into terms; raises ``PatternError`` on empty terms."""
    terms: list[PatternTerm] = []
    for item in _SPLIT.split(pattern):
        for piece in _OPERATOR_SPLIT.split(item.strip()):
            piece = piece.strip()
            if not piece and not item.strip():
                raise PatternError(
                    f"pattern {pattern!r} has an empty term (look for a doubled or trailing "
                    "',' or ':')"
                )
            if not piece:
                continue  # the empty string before a leading & or !
            operator: Operator = "union"
            if piece[0] == "&":
                operator, piece = "intersect", piece[1:].strip()
            elif piece[0] == "!":
                operator, piece = "exclude", piece[1:].strip()
            if not piece or piece[0] in "&!":
                raise PatternError(
                    f"pattern {pattern!r}: '{'&' if operator == 'intersect' else '!'}' "
                    "must be followed by a host, group, glob or label=value"
                )
            terms.append(PatternTerm(operator, piece))
    return terms


def select_hosts(inventory: Inventory, pattern: str | None) -> list[Host]:
    """The hosts ``pattern`` selects, in inventory order.

    None, 'all' and '*' select every host. Raises ``PatternError`` for an empty
    or blank pattern, an unknown name or group, a term that matches no host, or
    an empty result.
    """
    if pattern is not None and not pattern.strip():
        raise PatternError(
            f"the --limit pattern {pattern!r} is empty (an unset shell variable?); leave out "
            "--limit, or give 'all', for every host"
        )
    if is_all(pattern):
        return list(inventory.hosts)
    assert pattern is not None
    terms = parse_pattern(pattern)
    matched = {term: _match_term(inventory, term, pattern) for term in terms}

    unions = [term for term in terms if term.operator == "union"]
    selected: set[str] = set()
    if unions:
        for term in unions:
            selected |= matched[term]
    else:
        selected = {host.name for host in inventory.hosts}
    for term in terms:
        if term.operator == "intersect":
            selected &= matched[term]
    for term in terms:
        if term.operator == "exclude":
            selected -= matched[term]
    if not selected:
        raise PatternError(f"pattern {pattern!r} matches no host")
    return [host for host in inventory.hosts if host.name in selected]


def _match_term(inventory: Inventory, term: PatternTerm, pattern: str) -> set[str]:
    text = term.text
    where = f"pattern {pattern!r}: {str(term)!r}"
    if text in ("all", "*"):
        return {host.name for host in inventory.hosts}
    if "=" in text:
        return _match_label(inventory, text, where)
    if text in inventory.groups:
        members = set(inventory.groups[text])
        if not members:
            raise PatternError(f"{where}: group {text!r} has no hosts")
        return members
    if any(char in text for char in _GLOB_CHARS):
        names = {host.name for host in inventory.hosts if fnmatchcase(host.name, text)}
        for group, group_members in inventory.groups.items():
            if fnmatchcase(group, text):
                names |= set(group_members)
        if not names:
            raise PatternError(f"{where} matches no host or group")
        return names
    if inventory.host(text) is not None:
        return {text}
    candidates = [*inventory.groups, *(host.name for host in inventory.hosts)]
    close = difflib.get_close_matches(text, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise PatternError(f"{where}: no host or group named {text!r}{hint}")


def _match_label(inventory: Inventory, text: str, where: str) -> set[str]:
    key, _, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not key or not value:
        raise PatternError(f"{where}: expected label=value, e.g. env=prod")
    known_keys = sorted({label for host in inventory.hosts for label in host.labels})
    if key not in known_keys:
        close = difflib.get_close_matches(key, known_keys, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PatternError(f"{where}: no host has a label {key!r}{hint}")
    names = {
        host.name
        for host in inventory.hosts
        if key in host.labels and fnmatchcase(host.labels[key], value)
    }
    if not names:
        values = sorted({host.labels[key] for host in inventory.hosts if key in host.labels})
        raise PatternError(f"{where} matches no host; {key} is one of: {', '.join(values)}")
    return names
