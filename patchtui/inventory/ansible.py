"""Ansible inventories as they are: INI, YAML, and dynamic-inventory scripts -> ``Inventory``.

Formats (``detect_format`` picks one; see its docstring for the rules):

* **INI** - ungrouped host lines first, ``[group]``, ``[group:vars]``,
  ``[group:children]``; host lines ``name[:port] key=value ...`` with ranges
  (``www[01:50].example.com``, ``db-[a:f].example.com``).
* **YAML** - top-level group names (usually ``all:``), each with ``hosts``
  (name -> vars), ``children`` (group -> group) and ``vars``.
* **Dynamic** - an executable file starting with ``#!`` is run with ``--list``
  (no shell, ``SCRIPT_TIMEOUT`` seconds); its JSON is ``{group: {hosts,
  children, vars} | [hosts], "_meta": {"hostvars": {...}}}``. A static
  ``.json`` file in either shape is read the same way.
* **Plugin** - a YAML file with a top-level ``plugin:`` (``amazon.aws.aws_ec2``,
  ``constructed``, ``ansible.builtin.generator`` ...), or an inventory directory
  holding one, is read through ansible-core's ``ansible-inventory --list
  --export`` (the optional ``patchtui[ansible]`` extra), bounded like a script;
  without ansible-core it is refused with one line naming what to install.

Variables merge as Ansible merges them: ``all`` < parent groups < child groups
(by depth, then ``ansible_group_priority``, then name) < host vars.

Mapping to ``Host``:

=================================  ==============================
``ansible_host``                   ``address`` (default: the name)
``ansible_port``                   ``port``
``ansible_user``                   ``user``
``ansible_ssh_private_key_file``   ``identity_file`` (relative: to the inventory's directory)
``ansible_become``                 ``become`` (yes/no/true/false/on/off/1/0)
``ansible_become_user``            ``become_user``
``ansible_ssh_common_args``,       ``-J host``, ``-o ProxyJump=host`` and
``ansible_ssh_extra_args``         ``-o ProxyCommand="ssh -W %h:%p [user@]host"`` ->
                                   ``jump_host``; ``-o StrictHostKeyChecking=accept-new``
                                   -> ``host_key_policy``
``ansible_timeout``                ``connect_timeout``
``patchtui_<setting>``             that patchtui setting (``patchtui_package_manager`` ...)
``patchtui_labels``                ``labels`` (a mapping)
=================================  ==============================

Every other var lands in ``Host.vars``. Passwords (``ansible_password``,
``ansible_ssh_pass``, ``ansible_become_pass`` ...) are never stored; they and
anything else patchtui cannot honour (``ansible_connection: winrm``, a
``become_method`` other than sudo, unknown ``ansible_*`` connection vars)
become one warning line each on ``Inventory.warnings``.

For ``patchtui inventory show``, every function that builds an inventory
also returns, per host, the source of each ``Host`` field
(``AnsibleInventory.sources``).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from patchtui.errors import InventoryError
from patchtui.inventory.model import (
    DEFAULT_HOST_KEY_POLICY,
    HOST_KEY_POLICIES,
    MAX_HOSTS,
    PACKAGE_MANAGERS,
    Host,
    Inventory,
)
from patchtui.inventory.ranges import expand_range
from patchtui.inventory.sshconfig import SSHCONFIG_PREFIX
from patchtui.inventory.yamlread import LineList, LineMap, read_yaml
from patchtui.paths import expand_user, read_input_text

SCRIPT_TIMEOUT = 60.0
"""Seconds a dynamic inventory script may take for ``--list``."""

SCRIPT_MAX_OUTPUT = 32 * 1024 * 1024
"""Bytes of JSON a dynamic inventory script may print: ample for tens of thousands of
hosts with their vars, and a bound on the memory a broken script can take."""

InventoryFormat = Literal[
    "patchtui",
    "ansible-yaml",
    "ansible-ini",
    "ansible-json",
    "ansible-plugin",
    "script",
    "sshconfig",
]

ANSIBLE_EXTRA = "pip install 'patchtui[ansible]'"
"""What to install to read inventory plugin files (the optional extra pins ansible-core)."""

IMPLICIT_GROUPS = ("all", "ungrouped")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_SECTION = re.compile(r"^\[(?P<name>[^\]:]+)(?::(?P<kind>[^\]]*))?\]\s*$")
_YAML_KEY_LINE = re.compile(r"^[A-Za-z0-9_.\-\"']+\s*:(\s|$)")
_GROUP_KEYS = ("hosts", "children", "vars")
_TRUE = ("yes", "true", "on", "1", "y")
_FALSE = ("no", "false", "off", "0", "n")
_SECRET_VARS = (
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_become_pass",
    "ansible_become_password",
    "ansible_sudo_pass",
    "ansible_sudo_password",
)
_SSH_CONNECTIONS = ("ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh")
# ansible_* vars that do not affect how patchtui connects: kept in vars, no warning.
_HARMLESS = (
    "ansible_python_interpreter",
    "ansible_group_priority",
    "ansible_shell_type",
    "ansible_shell_executable",
    "ansible_pipelining",
    "ansible_ssh_pipelining",
    "ansible_host_key_checking",
)
_FIELD_VARS: dict[str, tuple[str, ...]] = {
    # Later names are older spellings Ansible still accepts.
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "identity_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "become": ("ansible_become", "ansible_sudo"),
    "become_user": ("ansible_become_user", "ansible_sudo_user"),
    "connect_timeout": ("ansible_timeout", "ansible_ssh_timeout"),
    "package_manager": ("patchtui_package_manager",),
    "identity_file_patchtui": ("patchtui_identity_file",),
    "jump_host_patchtui": ("patchtui_jump_host",),
    "host_key_policy": ("patchtui_host_key_policy",),
    "known_hosts": ("patchtui_known_hosts",),
}
_SSH_ARG_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")
_CONSUMED = (
    *(name for names in _FIELD_VARS.values() for name in names),
    *_SSH_ARG_VARS,
    *_SECRET_VARS,
    "ansible_connection",
    "ansible_become_method",
    "patchtui_labels",
)


@dataclass(frozen=True)
class AnsibleInventory:
    """An inventory plus, per host, the source of each ``Host`` field it set."""

    inventory: Inventory
    sources: Mapping[str, Mapping[str, str]]
    """host name -> Host field -> e.g. ``ansible var ansible_port, group web, hosts.ini:7``."""


@dataclass(frozen=True)
class _Var:
    value: object
    origin: str
    """``group web, hosts.ini:7`` or ``host line hosts.ini:3``: shown to the user."""
    location: str
    """``hosts.ini:7``: where an error about this value points."""


@dataclass
class _Group:
    name: str
    location: str
    hosts: list[str] = field(default_factory=list)
    host_set: set[str] = field(default_factory=set)
    children: list[str] = field(default_factory=list)
    vars: dict[str, _Var] = field(default_factory=dict)


@dataclass
class _Raw:
    """Groups, hosts and vars as read, before merging; shared by every format."""

    source: str
    base_dir: Path | None
    groups: dict[str, _Group] = field(default_factory=dict)
    host_order: list[str] = field(default_factory=list)
    host_location: dict[str, str] = field(default_factory=dict)
    host_vars: dict[str, dict[str, _Var]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def group(self, name: str, location: str) -> _Group:
        _check_name(name, "group", location)
        if name not in self.groups:
            self.groups[name] = _Group(name, location)
        return self.groups[name]

    def add_host(self, group: str, name: str, location: str) -> None:
        _check_name(name, "host", location)
        if name not in self.host_vars:
            if len(self.host_order) >= MAX_HOSTS:
                raise InventoryError(
                    f"more than {MAX_HOSTS:,} hosts; patchtui reads at most that many from one "
                    "inventory",
                    where=location,
                )
            self.host_order.append(name)
            self.host_location[name] = location
            self.host_vars[name] = {}
        target = self.group(group, location)
        # A set beside the list: a 10,000-host range must not cost 10,000**2 comparisons.
        if name not in target.host_set:
            target.hosts.append(name)
            target.host_set.add(name)


def _check_name(name: str, kind: str, location: str) -> None:
    # Names end up in --limit patterns, which use , : & ! = and globs.
    if not _NAME.fullmatch(name):
        raise InventoryError(
            f"{kind} name {name!r} may use only letters, digits and _ . - "
            "(patchtui's --limit patterns need that)",
            where=location,
        )


# --------------------------------------------------------------------------- detection


def detect_format(path: str | Path) -> InventoryFormat:
    """Which reader ``path`` needs.

    * ``sshconfig:[PATH]`` -> ssh config aliases;
    * an executable regular file starting with ``#!`` -> dynamic script (an
      executable file without ``#!``, e.g. a YAML file with a stray mode bit,
      is read as text);
    * a YAML mapping with a top-level ``plugin:`` name, or a directory holding
      such a file (``constructed`` on top of static files) -> inventory plugin,
      read by ``ansible-inventory``;
    * ``.yml``/``.yaml``/``.json`` or text whose first line is ``key:`` or ``{``
      -> YAML/JSON, then by content: a top-level ``hosts:`` with only patchtui
      keys (``defaults``, ``groups``, ``hosts``) is a patchtui inventory; a
      mapping of ``_meta``/group -> list is ``--list`` JSON; anything else is
      Ansible YAML;
    * everything else (``.ini``, no extension, first line ``[group]`` or a
      host name) -> Ansible INI.
    """
    text_path = str(path)
    if text_path.startswith(SSHCONFIG_PREFIX):
        return "sshconfig"
    try:
        file_path = expand_user(text_path)
    except ValueError as exc:
        raise InventoryError(str(exc), where=text_path) from None
    if file_path.is_file() and os.access(file_path, os.X_OK):
        with file_path.open("rb") as handle:
            if handle.read(2) == b"#!":
                return "script"
    if file_path.is_dir() and _plugin_files(file_path):
        return "ansible-plugin"
    text = _read(file_path, text_path)
    return _detect_text(text, file_path.suffix.lower(), text_path)


def _detect_text(text: str, suffix: str, source: str) -> InventoryFormat:
    first = next(
        (
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith(("#", ";", "---"))
        ),
        "",
    )
    structured = suffix in (".yml", ".yaml", ".json") or first.startswith("{")
    if not structured and suffix not in (".ini", ".cfg"):
        structured = bool(_YAML_KEY_LINE.match(first)) and not _SECTION.match(first)
    if not structured:
        return "ansible-ini"
    data = read_yaml(text, source)
    if not isinstance(data, dict):
        # Neither format can use it; patchtui's own reader explains what it expected.
        return "patchtui"
    keys = set(data)
    # Only patchtui's own top-level keys (a missing hosts: is its loader's error to explain).
    if keys and keys <= {"defaults", "groups", "hosts"}:
        return "patchtui"
    if isinstance(data.get("plugin"), str):
        return "ansible-plugin"
    if "_meta" in keys or any(isinstance(value, list) for value in data.values()):
        return "ansible-json"
    return "ansible-yaml"


def _read(file_path: Path, source: str) -> str:
    try:
        return read_input_text(file_path)
    except FileNotFoundError:
        raise InventoryError("inventory file not found", where=source) from None
    except IsADirectoryError:
        raise InventoryError(
            "is a directory; give one inventory file (patchtui reads an inventory "
            "directory only when it holds an Ansible inventory plugin file, through "
            "ansible-inventory)",
            where=source,
        ) from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"not UTF-8 text ({exc.reason})", where=source) from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory: {exc.strerror}", where=source) from None


# --------------------------------------------------------------------------- INI


def _ini_value(text: str) -> object:
    """Ansible's INI reader: Python literals become values, anything else stays a string."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, str | int | float | bool | list | dict | tuple) or value is None:
        return value
    return text


def _split_host_port(pattern: str) -> tuple[str, int | None]:
    """``badwolf.example.com:5309`` -> name and port; a range's own colons are left alone."""
    head, sep, tail = pattern.rpartition(":")
    if sep and tail.isdecimal() and pattern.rfind("]") < len(head):
        return head, int(tail)
    return pattern, None


def _expand_hosts(pattern: str, location: str) -> tuple[list[str], int | None]:
    name, port = _split_host_port(pattern)
    try:
        return [item.name for item in expand_range(name)], port
    except ValueError as bad:
        raise InventoryError(str(bad), where=location) from None


def parse_ini(text: str, source: str, *, base_dir: str | Path | None = None) -> AnsibleInventory:
    """Parse an Ansible INI inventory; ``source`` names it in messages."""
    raw = _Raw(source=source, base_dir=Path(base_dir) if base_dir is not None else None)
    raw.group("all", f"{source}:1")
    section, kind = "ungrouped", "hosts"
    for number, line in enumerate(text.splitlines(), start=1):
        location = f"{source}:{number}"
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("["):
            match = _SECTION.match(stripped)
            if match is None:
                raise InventoryError(
                    f"bad section header {stripped!r}; expected [group], [group:vars] or "
                    "[group:children]",
                    where=location,
                )
            section, kind = match.group("name").strip(), (match.group("kind") or "hosts").strip()
            if kind not in ("hosts", "vars", "children"):
                raise InventoryError(
                    f"section [{section}:{kind}]: unknown kind {kind!r}; use :vars or :children",
                    where=location,
                )
            raw.group(section, location)
            continue
        if kind == "vars":
            key, sep, value = stripped.partition("=")
            if not sep or not key.strip():
                raise InventoryError(
                    f"[{section}:vars] expects key=value, got {stripped!r}", where=location
                )
            raw.groups[section].vars[key.strip()] = _Var(
                _ini_value(value.strip()), f"group {section}, {location}", location
            )
        elif kind == "children":
            child = stripped.split()[0]
            raw.group(child, location)
            if child not in raw.groups[section].children:
                raw.groups[section].children.append(child)
        else:
            _ini_host_line(raw, section, stripped, location)
    return _build(raw)


def _ini_host_line(raw: _Raw, section: str, line: str, location: str) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InventoryError(f"cannot split host line: {exc}", where=location) from None
    if not words:
        return
    names, port = _expand_hosts(words[0], location)
    variables: dict[str, _Var] = {}
    if port is not None:
        variables["ansible_port"] = _Var(port, f"host line {location}", location)
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InventoryError(
                f"host {words[0]!r}: expected key=value after the host name, got {word!r}",
                where=location,
            )
        variables[key] = _Var(_ini_value(value), f"host line {location}", location)
    for name in names:
        raw.add_host(section, name, location)
        raw.host_vars[name].update(variables)


# --------------------------------------------------------------------------- YAML


def parse_yaml(text: str, source: str, *, base_dir: str | Path | None = None) -> AnsibleInventory:
    """Parse an Ansible YAML inventory (``all: {hosts, children, vars}``)."""
    data = read_yaml(text, source)
    raw = _Raw(source=source, base_dir=Path(base_dir) if base_dir is not None else None)
    raw.group("all", f"{source}:1")
    if data is None:
        raise InventoryError("inventory is empty", where=source)
    if not isinstance(data, LineMap):
        raise InventoryError(
            "an Ansible YAML inventory is a mapping of group names (e.g. 'all:')",
            where=f"{source}:1",
        )
    if "plugin" in data:
        _plugin_error(data, source)
    for name, body in data.items():
        location = f"{source}:{data.line_of(name)}"
        _yaml_group(raw, str(name), body, location, parent=None)
    return _build(raw)


def _plugin_error(data: LineMap, source: str) -> None:
    plugin = data.get("plugin")
    raise InventoryError(
        f"inventory plugin {plugin!r}: the plugin: key must be a plugin name "
        "(e.g. plugin: amazon.aws.aws_ec2)",
        where=f"{source}:{data.line_of('plugin')}",
    )


def _yaml_group(raw: _Raw, name: str, body: object, location: str, parent: str | None) -> None:
    group = raw.group(name, location)
    if parent is not None and name not in raw.groups[parent].children:
        raw.groups[parent].children.append(name)
    if body is None:
        return
    if not isinstance(body, LineMap):
        raise InventoryError(
            f"group {name!r} must be a mapping with hosts, children or vars", where=location
        )
    for key, value in body.items():
        key_location = f"{raw.source}:{body.line_of(key)}"
        if key not in _GROUP_KEYS:
            raw.warnings.append(
                f"{key_location}: group {name!r}: key {key!r} ignored (a group has only "
                "hosts, children and vars)"
            )
            continue
        if value is None:
            continue
        if not isinstance(value, LineMap):
            raise InventoryError(f"group {name!r}: {key} must be a mapping", where=key_location)
        if key == "vars":
            for var, item in value.items():
                var_location = f"{raw.source}:{value.line_of(var)}"
                group.vars[str(var)] = _Var(
                    _plain(item), f"group {name}, {var_location}", var_location
                )
        elif key == "children":
            for child, child_body in value.items():
                child_location = f"{raw.source}:{value.line_of(child)}"
                _yaml_group(raw, str(child), child_body, child_location, parent=name)
        else:
            for pattern, host_body in value.items():
                host_location = f"{raw.source}:{value.line_of(pattern)}"
                _yaml_host(raw, name, str(pattern), host_body, host_location)


def _yaml_host(raw: _Raw, group: str, pattern: str, body: object, location: str) -> None:
    names, port = _expand_hosts(pattern, location)
    variables: dict[str, _Var] = {}
    if port is not None:
        variables["ansible_port"] = _Var(port, f"host {location}", location)
    if body is not None:
        if not isinstance(body, LineMap):
            raise InventoryError(
                f"host {pattern!r}: its vars must be a mapping, got {body!r}", where=location
            )
        for key, value in body.items():
            var_location = f"{raw.source}:{body.line_of(key)}"
            variables[str(key)] = _Var(_plain(value), f"host {var_location}", var_location)
    for name in names:
        raw.add_host(group, name, location)
        raw.host_vars[name].update(variables)


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, LineList | list):
        return [_plain(item) for item in value]
    return value


# --------------------------------------------------------------------------- JSON / scripts


def _plugin_files(folder: Path) -> list[Path]:
    """The inventory plugin files directly in ``folder`` (Ansible reads a directory's
    files in name order; group_vars/host_vars are directories and not looked at)."""
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in (".yml", ".yaml", ".config"):
            continue
        try:
            data = read_yaml(read_input_text(path), str(path))
        except (InventoryError, OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("plugin"), str):
            found.append(path)
    return found


def find_ansible_inventory() -> str | None:
    """The ``ansible-inventory`` to run: the one installed next to this Python (the
    ``patchtui[ansible]`` extra in patchtui's own venv) first, else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ansible-inventory")


def run_plugin(
    path: str | Path, *, timeout: float = SCRIPT_TIMEOUT, max_output: int = SCRIPT_MAX_OUTPUT
) -> AnsibleInventory:
    """Read an inventory plugin file (or a directory holding one) through
    ``ansible-inventory --list --export``, bounded as ``run_script`` is.

    ``--export`` keeps group vars on their groups, so ``inventory show`` can say
    which group set a field.
    """
    shown = str(path)
    try:
        file_path = expand_user(path).resolve()
    except ValueError as exc:
        raise InventoryError(str(exc), where=shown) from None
    program = find_ansible_inventory()
    if program is None:
        plugin_file = _plugin_files(file_path)[0] if file_path.is_dir() else file_path
        label = str(Path(shown) / plugin_file.name) if file_path.is_dir() else shown
        data = read_yaml(_read(plugin_file, label), label)
        assert isinstance(data, LineMap)  # detect_format found its plugin: key
        where = f"{label}:{data.line_of('plugin')}"
        raise InventoryError(
            f"'plugin: {data['plugin']}' is an Ansible inventory plugin; install ansible-core "
            f"({ANSIBLE_EXTRA}) to read it",
            where=where,
        )
    env = {
        **os.environ,
        # A source no plugin can read is an error, not an empty inventory with a warning.
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "PYTHONWARNINGS": "ignore",
    }
    argv = [program, "--list", "--export", "-i", str(file_path)]
    stdout = _run_list_command(argv, shown, "ansible-inventory", timeout, max_output, env)
    base_dir = file_path if file_path.is_dir() else file_path.parent
    origin = f"ansible-inventory -i {shown}"
    return parse_list_json(stdout, shown, base_dir=base_dir, origin=origin)


_ANSIBLE_PARSE_FAILURE = re.compile(r"Failed to parse inventory with '[^']+' plugin: (?P<why>.+)")
_UNKNOWN_PLUGIN = re.compile(r"unknown plugin '(?P<collection>[\w]+\.[\w]+)\.[\w.]+'")


def _ansible_error(errors: str) -> str:
    """The one line of ansible-inventory's stderr that says why (it prints a dozen)."""
    lines = [line.strip() for line in errors.splitlines() if line.strip()]
    for line in lines:
        found = _ANSIBLE_PARSE_FAILURE.search(line)
        if found:
            unknown = _UNKNOWN_PLUGIN.search(found["why"])
            if unknown:
                # A cloud plugin lives in a collection that ansible-core does not ship.
                return (
                    f"{found['why']} (install its collection: ansible-galaxy collection "
                    f"install {unknown['collection']})"
                )
            return found["why"]
    failures = [line for line in lines if line.startswith("[ERROR]:")]
    if failures:
        return failures[0].removeprefix("[ERROR]:").strip()
    return lines[-1] if lines else "no error output"


def parse_list_json(
    text: str, source: str, *, base_dir: str | Path | None = None, origin: str | None = None
) -> AnsibleInventory:
    """Parse ``--list`` JSON (a dynamic script's output, or a static .json file).

    ``origin`` names the producer in sources (``inventory.py --list``).
    """
    label = origin or source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(
            f"not valid inventory JSON: {exc.msg} (column {exc.colno})",
            where=f"{label}:{exc.lineno}",
        ) from None
    except RecursionError:
        raise InventoryError("inventory JSON is nested too deeply", where=label) from None
    except ValueError as exc:
        # A number of thousands of digits: Python's advice after ';' is not for users.
        raise InventoryError(
            f"not valid inventory JSON: {str(exc).split(';')[0]}", where=label
        ) from None
    if not isinstance(data, dict):
        raise InventoryError("inventory JSON must be an object of groups", where=label)
    if "plugin" in data:
        raise InventoryError(f"inventory plugin {data['plugin']!r} is not supported", where=label)
    raw = _Raw(source=source, base_dir=Path(base_dir) if base_dir is not None else None)
    raw.group("all", label)
    meta = data.pop("_meta", None)
    for name, body in data.items():
        group = raw.group(str(name), label)
        if isinstance(body, list):
            body = {"hosts": body}
        if not isinstance(body, dict):
            raise InventoryError(
                f"group {name!r} must be a list of hosts or an object", where=label
            )
        for key in body:
            if key not in _GROUP_KEYS:
                raw.warnings.append(f"{label}: group {name!r}: key {key!r} ignored")
        for host in _json_list(body.get("hosts"), f"group {name!r} hosts", label):
            for expanded in _expand_hosts(host, label)[0]:
                raw.add_host(group.name, expanded, label)
        for child in _json_list(body.get("children"), f"group {name!r} children", label):
            raw.group(child, label)
            if child not in group.children:
                group.children.append(child)
        group_vars = body.get("vars") or {}
        if not isinstance(group_vars, dict):
            raise InventoryError(f"group {name!r}: vars must be an object", where=label)
        for key, value in group_vars.items():
            group.vars[str(key)] = _Var(value, f"group {name}, {label}", label)
    _json_hostvars(raw, meta, label)
    return _build(raw)


def _json_list(value: object, what: str, label: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InventoryError(f"{what} must be a list of names", where=label)
    return list(value)


def _json_hostvars(raw: _Raw, meta: object, label: str) -> None:
    if meta is None:
        # Ansible would then call the script with --host for each host;
        # patchtui does not (one process per host), and says so.
        raw.warnings.append(
            f"{label}: no _meta.hostvars; host vars were not read (patchtui does not call "
            "--host per host)"
        )
        return
    hostvars = meta.get("hostvars", {}) if isinstance(meta, dict) else None
    if not isinstance(hostvars, dict):
        raise InventoryError("_meta.hostvars must be an object", where=label)
    for name, variables in hostvars.items():
        if not isinstance(variables, dict):
            raise InventoryError(f"_meta.hostvars[{name!r}] must be an object", where=label)
        if name not in raw.host_vars:
            # Ansible adds such hosts to 'all'; keep them rather than drop them.
            raw.add_host("ungrouped", str(name), label)
        for key, value in variables.items():
            raw.host_vars[name][str(key)] = _Var(value, f"_meta.hostvars, {label}", label)


def run_script(
    path: str | Path, *, timeout: float = SCRIPT_TIMEOUT, max_output: int = SCRIPT_MAX_OUTPUT
) -> AnsibleInventory:
    """Run the dynamic inventory ``path --list`` (no shell) and read its JSON.

    Bounded: ``timeout`` seconds and ``max_output`` bytes of stdout; past
    either, the script's whole process group is killed (a script that starts
    helpers must not leave them running) and the inventory is refused.
    """
    shown = str(path)
    try:
        script = expand_user(path).resolve()
    except ValueError as exc:
        raise InventoryError(str(exc), where=shown) from None
    argv = [str(script), "--list"]
    text = _run_list_command(argv, shown, "dynamic inventory", timeout, max_output, None)
    return parse_list_json(text, shown, base_dir=script.parent, origin=f"{shown} --list")


def _run_list_command(
    argv: list[str],
    shown: str,
    what: str,
    timeout: float,
    max_output: int,
    env: dict[str, str] | None,
) -> str:
    """Run an inventory producer (``what``: a script, ansible-inventory) bounded; its
    stdout as text, or one ``InventoryError`` line saying what went wrong."""
    try:
        status, stdout, stderr = _run_bounded(argv, timeout, max_output, env)
    except _ScriptTimeout:
        raise InventoryError(
            f"{what} did not finish --list within {timeout:g}s (killed it and its child processes)",
            where=shown,
        ) from None
    except _ScriptTooChatty:
        raise InventoryError(
            f"{what} --list printed more than {max_output // (1024 * 1024)} MiB "
            "(killed it and its child processes)",
            where=shown,
        ) from None
    except OSError as exc:
        raise InventoryError(f"cannot run {what}: {exc.strerror or exc}", where=shown) from None
    if status != 0:
        errors = stderr.decode("utf-8", "replace")
        if what == "ansible-inventory":
            why = _ansible_error(errors)
        else:
            lines = [line.strip() for line in errors.splitlines() if line.strip()]
            why = lines[-1] if lines else "no error output"
        raise InventoryError(f"{what} --list exited with status {status}: {why}", where=shown)
    try:
        return stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(
            f"{what} --list printed text that is not UTF-8 ({exc.reason})", where=shown
        ) from None


class _ScriptTimeout(Exception):
    pass


class _ScriptTooChatty(Exception):
    pass


_READ_CHUNK = 64 * 1024


def _run_bounded(
    argv: list[str], timeout: float, max_output: int, env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``argv`` in its own session; (status, stdout, last ``_STDERR_KEPT`` of stderr).

    Raises ``_ScriptTimeout`` or ``_ScriptTooChatty`` after killing the process
    group. The pipes are read as data arrives, so neither can fill and stall
    the script, and at most ``max_output`` bytes of stdout are ever held.
    """
    deadline = time.monotonic() + timeout
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # Its own process group: on a timeout, the helpers it started go with it.
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    stdout = bytearray()
    stderr = bytearray()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, stdout)
            selector.register(process.stderr, selectors.EVENT_READ, stderr)
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _ScriptTimeout
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, _READ_CHUNK)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer: bytearray = key.data
                    buffer += chunk
                    if buffer is stdout and len(stdout) > max_output:
                        raise _ScriptTooChatty
                    if buffer is stderr and len(stderr) > _STDERR_KEPT:
                        del stderr[: len(stderr) - _STDERR_KEPT]
        try:
            status = process.wait(timeout=max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            raise _ScriptTimeout from None
        return status, bytes(stdout), bytes(stderr)
    except BaseException:
        _kill_group(process)
        raise
    finally:
        process.stdout.close()
        process.stderr.close()


_STDERR_KEPT = 64 * 1024
"""Bytes of a script's stderr kept (the end, where its error is)."""


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def load_ansible(path: str | Path, kind: InventoryFormat | None = None) -> AnsibleInventory:
    """Read the Ansible inventory at ``path`` (format detected unless ``kind`` is given)."""
    kind = kind or detect_format(path)
    if kind == "script":
        return run_script(path)
    if kind == "ansible-plugin":
        return run_plugin(path)
    source = str(path)
    try:
        file_path = expand_user(path)
    except ValueError as exc:
        raise InventoryError(str(exc), where=source) from None
    text = _read(file_path, source)
    base_dir = file_path.resolve().parent
    if kind == "ansible-ini":
        return parse_ini(text, source, base_dir=base_dir)
    if kind == "ansible-json":
        return parse_list_json(text, source, base_dir=base_dir)
    if kind == "ansible-yaml":
        return parse_yaml(text, source, base_dir=base_dir)
    raise ValueError(f"not an Ansible inventory format: {kind}")


# --------------------------------------------------------------------------- merge


def _group_depths(raw: _Raw) -> dict[str, int]:
    """Depth below ``all`` (longest path); raises on a children cycle."""
    parents: dict[str, list[str]] = {name: [] for name in raw.groups}
    for group in raw.groups.values():
        for child in group.children:
            if child == "all":
                raise InventoryError(
                    f"group {group.name!r} lists 'all' as a child", where=group.location
                )
            parents[child].append(group.name)
    depths: dict[str, int] = {"all": 0}

    def depth(name: str, trail: tuple[str, ...]) -> int:
        if name in depths:
            return depths[name]
        if name in trail:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise InventoryError(
                f"group children form a cycle: {cycle}", where=raw.groups[name].location
            )
        above = [depth(parent, (*trail, name)) for parent in parents[name]]
        depths[name] = 1 + max(above, default=0)
        return depths[name]

    for name in raw.groups:
        depth(name, ())
    return depths


def _ancestors(raw: _Raw, direct: Iterable[str]) -> set[str]:
    parents: dict[str, set[str]] = {}
    for group in raw.groups.values():
        for child in group.children:
            parents.setdefault(child, set()).add(group.name)
    found: set[str] = set()
    pending = list(direct)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(parents.get(name, ()))
    return found


def _priority(group: _Group) -> int:
    var = group.vars.get("ansible_group_priority")
    try:
        return int(str(var.value)) if var is not None else 1
    except ValueError:
        return 1


def _build(raw: _Raw) -> AnsibleInventory:
    depths = _group_depths(raw)
    order = {name: index for index, name in enumerate(raw.groups)}
    clash = [name for name in raw.host_order if name in raw.groups]
    if clash:
        raise InventoryError(
            f"host {clash[0]!r} has the same name as a group; --limit could not tell them apart",
            where=raw.host_location[clash[0]],
        )
    unused: dict[str, list[str]] = {}
    hosts: list[Host] = []
    sources: dict[str, dict[str, str]] = {}
    for name in raw.host_order:
        direct = [group.name for group in raw.groups.values() if name in group.host_set]
        member_of = _ancestors(raw, direct) | {"all"}
        layers = sorted(
            member_of, key=lambda group: (depths[group], _priority(raw.groups[group]), group)
        )
        merged: dict[str, _Var] = {}
        for group in layers:
            merged.update(raw.groups[group].vars)
        merged.update(raw.host_vars[name])
        groups = tuple(
            sorted((g for g in member_of if g not in IMPLICIT_GROUPS), key=order.__getitem__)
        )
        host, host_sources = _to_host(raw, name, groups, merged, unused)
        hosts.append(host)
        sources[name] = host_sources
    warnings = list(raw.warnings)
    for var, names in unused.items():
        more = f", +{len(names) - 3} more" if len(names) > 3 else ""
        warnings.append(f"{var} (hosts {', '.join(names[:3])}{more}) is not used by patchtui")
    members = {
        group: tuple(host.name for host in hosts if group in host.groups)
        for group in raw.groups
        if group not in IMPLICIT_GROUPS
    }
    inventory = Inventory(
        source=raw.source, hosts=tuple(hosts), groups=members, warnings=tuple(warnings)
    )
    return AnsibleInventory(inventory=inventory, sources=sources)


class _Bad(Exception):
    pass


def _as_text(value: object) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise _Bad(f"must be a non-empty string, got {value!r}")
    text = str(value).strip()
    if any(char.isspace() for char in text):
        raise _Bad(f"must not contain spaces, got {value!r}")
    return text


def _as_port(value: object) -> int:
    text = str(value).strip()
    valid = text.isdecimal() and len(text) <= 5 and 1 <= int(text) <= 65535
    if isinstance(value, bool) or not valid:
        raise _Bad(f"must be a port 1..65535, got {value!r}")
    return int(text)


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(f"must be yes/no/true/false, got {value!r}")


def _as_timeout(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise _Bad(f"must be a number of seconds, got {value!r}") from None
    if not 0 < number <= 3600:
        raise _Bad(f"must be more than 0 and at most 3600 seconds, got {value!r}")
    return number


def _as_choice(choices: tuple[str, ...]) -> object:
    def check(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise _Bad(f"must be one of {', '.join(choices)}, got {value!r}")

    return check


_CONVERT = {
    "address": _as_text,
    "port": _as_port,
    "user": _as_text,
    "identity_file": _as_text,
    "identity_file_patchtui": _as_text,
    "jump_host_patchtui": _as_text,
    "become": _as_bool,
    "become_user": _as_text,
    "connect_timeout": _as_timeout,
    "package_manager": _as_choice(PACKAGE_MANAGERS),
    "host_key_policy": _as_choice(HOST_KEY_POLICIES),
    "known_hosts": _as_text,
}


def _resolve_path(text: str, base_dir: Path | None) -> str:
    try:
        path = expand_user(text)
    except ValueError as bad:
        raise _Bad(f"{text!r}: {bad}") from None
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return str(path)


def _to_host(
    raw: _Raw,
    name: str,
    groups: tuple[str, ...],
    merged: dict[str, _Var],
    unused: dict[str, list[str]],
) -> tuple[Host, dict[str, str]]:
    settings: dict[str, object] = {}
    sources: dict[str, str] = {}
    for setting, names in _FIELD_VARS.items():
        var_name = next((candidate for candidate in names if candidate in merged), None)
        if var_name is None:
            continue
        var = merged[var_name]
        target = setting.removesuffix("_patchtui")
        try:
            value = _CONVERT[setting](var.value)  # type: ignore[operator]
            if target in ("identity_file", "known_hosts"):
                value = _resolve_path(str(value), raw.base_dir)
        except _Bad as bad:
            raise InventoryError(f"host {name!r}: {var_name} {bad}", where=var.location) from None
        settings[target] = value
        sources[target] = f"ansible var {var_name}, {var.origin}"
    for var_name in _SSH_ARG_VARS:
        if var_name in merged:
            _ssh_args(name, var_name, merged[var_name], settings, sources, raw.warnings)
    _connection_warnings(name, merged, raw.warnings)
    labels = _labels(name, merged.get("patchtui_labels"))
    if labels:
        sources["labels"] = f"ansible var patchtui_labels, {merged['patchtui_labels'].origin}"
    variables: dict[str, object] = {}
    for key, var in merged.items():
        if key in _CONSUMED:
            continue
        if key.startswith("ansible_") and key not in _HARMLESS:
            unused.setdefault(key, []).append(name)
        variables[key] = var.value
    if "address" not in settings:
        sources["address"] = f"host name, {raw.host_location[name]}"
    host = Host(
        name=name,
        address=str(settings.get("address", name)),
        port=int(settings.get("port", 22)),  # type: ignore[call-overload]
        user=settings.get("user"),  # type: ignore[arg-type]
        groups=groups,
        labels=labels,
        become=bool(settings.get("become", False)),
        become_user=str(settings.get("become_user", "root")),
        package_manager=settings.get("package_manager"),  # type: ignore[arg-type]
        identity_file=settings.get("identity_file"),  # type: ignore[arg-type]
        jump_host=settings.get("jump_host"),  # type: ignore[arg-type]
        host_key_policy=settings.get("host_key_policy", DEFAULT_HOST_KEY_POLICY.get()),  # type: ignore[arg-type]
        known_hosts=settings.get("known_hosts"),  # type: ignore[arg-type]
        connect_timeout=float(settings.get("connect_timeout", 10.0)),  # type: ignore[arg-type]
        vars=variables,
    )
    return host, sources


def _labels(name: str, var: _Var | None) -> dict[str, str]:
    if var is None:
        return {}
    if not isinstance(var.value, dict):
        raise InventoryError(
            f"host {name!r}: patchtui_labels must be a mapping of label -> value",
            where=var.location,
        )
    return {str(key): str(value) for key, value in var.value.items()}


def _connection_warnings(name: str, merged: dict[str, _Var], warnings: list[str]) -> None:
    for secret in _SECRET_VARS:
        if secret in merged:
            warnings.append(
                f"{merged[secret].location}: host {name!r}: {secret} ignored and not stored; "
                "patchtui uses keys or the agent (and -K for sudo)"
            )
    connection = merged.get("ansible_connection")
    if connection is not None and str(connection.value) not in _SSH_CONNECTIONS:
        warnings.append(
            f"{connection.location}: host {name!r}: ansible_connection={connection.value} "
            "is not supported; patchtui connects over SSH"
        )
    method = merged.get("ansible_become_method")
    if method is not None and str(method.value) not in ("sudo", "ansible.builtin.sudo"):
        warnings.append(
            f"{method.location}: host {name!r}: ansible_become_method={method.value} is not "
            "supported; patchtui uses sudo"
        )


_PROXY_COMMAND_SSH = re.compile(r"^ssh\s")
# "-o Name=value" or "-o Name value", as ssh itself accepts.
_SSH_OPTION = re.compile(r"^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*)$")


def _ssh_args(
    name: str,
    var_name: str,
    var: _Var,
    settings: dict[str, object],
    sources: dict[str, str],
    warnings: list[str],
) -> None:
    """Read ProxyJump and StrictHostKeyChecking out of ssh command-line arguments."""
    source = f"ansible var {var_name}, {var.origin}"
    try:
        words = shlex.split(str(var.value))
    except ValueError as exc:
        raise InventoryError(f"host {name!r}: {var_name}: {exc}", where=var.location) from None
    ignored: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        value: str | None = None
        if word == "-J" and index + 1 < len(words):
            settings.setdefault("jump_host", words[index + 1])
            sources.setdefault("jump_host", source)
            index += 2
            continue
        if word.startswith("-J") and len(word) > 2:
            settings.setdefault("jump_host", word[2:])
            sources.setdefault("jump_host", source)
            index += 1
            continue
        if word == "-o" and index + 1 < len(words):
            value, index = words[index + 1], index + 2
        elif word.startswith("-o") and len(word) > 2:
            value, index = word[2:], index + 1
        else:
            ignored.append(word)
            index += 1
            continue
        option_match = _SSH_OPTION.match(value)
        option_lower = option_match.group(1).lower() if option_match else value.lower()
        argument = option_match.group(2).strip() if option_match else ""
        if option_lower == "proxyjump":
            settings.setdefault("jump_host", argument)
            sources.setdefault("jump_host", source)
        elif option_lower == "proxycommand" and (jump := _jump_from_proxy_command(argument)):
            settings.setdefault("jump_host", jump)
            sources.setdefault("jump_host", source)
        elif option_lower == "stricthostkeychecking" and argument.lower() == "accept-new":
            settings.setdefault("host_key_policy", "accept-new")
            sources.setdefault("host_key_policy", source)
        else:
            ignored.append(f"-o {value}")
    if ignored:
        warnings.append(
            f"{var.location}: host {name!r}: {var_name}: {' '.join(ignored)} not used by "
            "patchtui (it understands -J, -o ProxyJump, -o ProxyCommand='ssh -W %h:%p host', "
            "-o StrictHostKeyChecking=accept-new)"
        )


def _jump_from_proxy_command(command: str) -> str | None:
    """``ssh -W %h:%p -q [-p N] user@bastion`` -> ``user@bastion[:N]``; else None."""
    if not _PROXY_COMMAND_SSH.match(command):
        return None
    words = shlex.split(command)[1:]
    if "-W" not in words:
        return None
    port: str | None = None
    target: str | None = None
    index = 0
    while index < len(words):
        word = words[index]
        if word in ("-W", "-p", "-i", "-o", "-l") and index + 1 < len(words):
            if word == "-p":
                port = words[index + 1]
            index += 2
            continue
        if not word.startswith("-"):
            target = word
        index += 1
    if target is None:
        return None
    return f"{target}:{port}" if port else target
