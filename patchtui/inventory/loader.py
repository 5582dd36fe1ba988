"""YAML inventory files -> validated ``Inventory``.

The schema (``sample_inventory.yaml`` at the repository root shows all of it)::

    defaults:   {<setting>: ..., labels: {...}, vars: {...}}       # optional
    groups:     {<group>: {<setting>: ..., labels: {...}, vars: {...}}}
    hosts:      {<name or range>: {address: ..., groups: [...], <setting>: ...,
                                   labels: {...}, vars: {...}}}

Settings (allowed in defaults, groups and hosts): ``port``, ``user``,
``become``, ``become_user``, ``package_manager``, ``identity_file``,
``jump_host``, ``host_key_policy``, ``known_hosts``, ``connect_timeout``.
``vars`` holds anything else, untouched (``Host.vars``).

Precedence, lowest to highest: ``defaults``, then the host's groups in the
order the host lists them (a later group wins), then the host itself.
``labels`` and ``vars`` merge key by key under the same order.

Every error is an ``InventoryError`` whose ``where`` is ``"<file>:<line>"``;
the lines come from the shared line-tracking reader (``yamlread.py``), which
also refuses duplicate keys.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from patchtui.errors import InventoryError
from patchtui.inventory.ansible import detect_format, load_ansible
from patchtui.inventory.model import (
    DEFAULT_HOST_KEY_POLICY,
    HOST_KEY_POLICIES,
    MAX_HOSTS,
    PACKAGE_MANAGERS,
    Host,
    HostKeyPolicy,
    Inventory,
)
from patchtui.inventory.ranges import expand_range, is_range
from patchtui.inventory.sshconfig import load_ssh_config_inventory
from patchtui.inventory.yamlread import LineList, LineMap, read_yaml
from patchtui.paths import expand_user, read_input_text

# Host and group names end up in --limit patterns, so they may not contain the
# pattern operators (, : & ! = and glob characters).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_LABEL_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")
_LABEL_VALUE_FORBIDDEN = re.compile(r"[\s,:&!=]")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_JUMP_SPEC = re.compile(
    r"(?:(?P<user>[^@\s:]+)@)?(?P<host>[^@\s:]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d+))?"
)
_RESERVED_NAMES = ("all",)

TOP_LEVEL_KEYS: tuple[str, ...] = ("defaults", "groups", "hosts")
SETTING_KEYS: tuple[str, ...] = (
    "port",
    "user",
    "become",
    "become_user",
    "package_manager",
    "identity_file",
    "jump_host",
    "host_key_policy",
    "known_hosts",
    "connect_timeout",
)
LAYER_KEYS: tuple[str, ...] = (*SETTING_KEYS, "labels", "vars")
"""Keys of ``defaults:`` and of each group."""
HOST_KEYS: tuple[str, ...] = ("address", "groups", *LAYER_KEYS)

# Names people bring from Ansible or ssh_config: point them at ours.
_ALIASES: dict[str, str] = {
    "sudo": "become",
    "sudo_user": "become_user",
    "ansible_become": "become",
    "ansible_become_user": "become_user",
    "ansible_host": "address",
    "ansible_port": "port",
    "ansible_user": "user",
    "hostname": "address",
    "host": "address",
    "ip": "address",
    "ssh_key": "identity_file",
    "key_file": "identity_file",
    "private_key": "identity_file",
    "proxy_jump": "jump_host",
    "proxyjump": "jump_host",
    "bastion": "jump_host",
    "timeout": "connect_timeout",
    "strict_host_key_checking": "host_key_policy",
    "pkg_manager": "package_manager",
}
_PATH_SETTINGS = ("identity_file", "known_hosts")


# --------------------------------------------------------------------------- layers


@dataclass
class _Layer:
    """Settings, labels and vars from one place: defaults, a group or a host."""

    settings: dict[str, object] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    vars: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    """Setting name -> line it was given on, for errors found after merging."""


class _Invalid(Exception):
    """A bad value; the caller knows the line and wraps it."""


@dataclass
class _Context:
    source: str
    base_dir: Path | None

    def error(self, message: str, line: int | None) -> InventoryError:
        return InventoryError(message, where=f"{self.source}:{line}" if line else self.source)


def _check_port(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"must be an integer 1..65535, got {value!r}")
    if not 1 <= value <= 65535:
        raise _Invalid(f"must be 1..65535, got {value}")
    return value


def _check_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, got {value!r}")
    return value


def _check_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"must be a non-empty string, got {value!r}")
    if value != value.strip() or any(char.isspace() for char in value):
        raise _Invalid(f"must not contain spaces, got {value!r}")
    return value


def _check_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"must be a number of seconds, got {value!r}")
    if not 0 < value <= 3600:
        raise _Invalid(f"must be more than 0 and at most 3600 seconds, got {value}")
    return float(value)


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return value
        hint = _did_you_mean(str(value), choices)
        raise _Invalid(f"must be one of {', '.join(choices)}, got {value!r}{hint}")

    return check


_CHECKS: dict[str, Callable[[object], object]] = {
    "port": _check_port,
    "user": _check_text,
    "become": _check_bool,
    "become_user": _check_text,
    "package_manager": _choice(PACKAGE_MANAGERS),
    "identity_file": _check_text,
    "jump_host": _check_text,
    "host_key_policy": _choice(HOST_KEY_POLICIES),
    "known_hosts": _check_text,
    "connect_timeout": _check_timeout,
}


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_key(key: object, what: str, allowed: tuple[str, ...]) -> str:
    text = str(key)
    alias = _ALIASES.get(text.lower())
    if alias in allowed:
        return f"{what}: unknown key {text!r} (did you mean {alias!r}?)"
    hint = _did_you_mean(text, allowed)
    if hint:
        return f"{what}: unknown key {text!r}{hint}"
    return f"{what}: unknown key {text!r}; valid keys: {', '.join(allowed)}"


def _require_mapping(value: object, what: str, line: int, ctx: _Context) -> LineMap:
    """None (an empty entry such as ``db01:``) counts as an empty mapping."""
    if value is None:
        empty = LineMap()
        empty.line = line
        empty.key_lines = {}
        return empty
    if not isinstance(value, LineMap):
        raise ctx.error(f"{what} must be a mapping, got {_type_name(value)}", line)
    return value


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


def _parse_layer(raw: LineMap, what: str, allowed: tuple[str, ...], ctx: _Context) -> _Layer:
    """Validate the layer keys of ``raw``; keys outside ``allowed`` are errors."""
    layer = _Layer()
    for key, value in raw.items():
        line = raw.line_of(key)
        if key not in allowed:
            raise ctx.error(_unknown_key(key, what, allowed), line)
        if key in _CHECKS:
            try:
                checked = _CHECKS[key](value)
                if key in _PATH_SETTINGS:
                    checked = _resolve_path(cast(str, checked), ctx.base_dir)
            except _Invalid as bad:
                raise ctx.error(f"{what}: {key} {bad}", line) from None
            layer.settings[key] = checked
            layer.lines[key] = line
        elif key == "labels":
            layer.labels = _parse_labels(value, what, line, ctx)
        elif key == "vars":
            layer.vars = _parse_vars(value, what, line, ctx)
    return layer


def _resolve_path(text: str, base_dir: Path | None) -> str:
    # Relative paths are relative to the inventory file, not to wherever
    # patchtui happens to be started: the lab writes an inventory next to its
    # known_hosts file and refers to it by a relative name.
    try:
        path = expand_user(text)
    except ValueError as bad:
        raise _Invalid(f"{text!r}: {bad}") from None
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return str(path)


def _parse_labels(value: object, what: str, line: int, ctx: _Context) -> dict[str, str]:
    raw = _require_mapping(value, f"{what}: labels", line, ctx)
    labels: dict[str, str] = {}
    for key, item in raw.items():
        key_line = raw.line_of(key)
        if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
            raise ctx.error(
                f"{what}: label name {key!r} may use only letters, digits and _ . - /", key_line
            )
        if isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, str | int | float):
            text = str(item)
        else:
            raise ctx.error(
                f"{what}: label {key!r} must be a plain value, got {_type_name(item)}", key_line
            )
        if not text or _LABEL_VALUE_FORBIDDEN.search(text):
            raise ctx.error(
                f"{what}: label {key}={text!r} must be non-empty without spaces or , : & ! = "
                "(they would clash with --limit patterns)",
                key_line,
            )
        labels[key] = text
    return labels


def _parse_vars(value: object, what: str, line: int, ctx: _Context) -> dict[str, object]:
    raw = _require_mapping(value, f"{what}: vars", line, ctx)
    result: dict[str, object] = {}
    for key, item in raw.items():
        key_line = raw.line_of(key)
        if not isinstance(key, str):
            raise ctx.error(f"{what}: vars key {key!r} must be a string", key_line)
        # A setting under vars would be silently ignored by every consumer, so
        # say where it belongs instead.
        if key in HOST_KEYS:
            raise ctx.error(
                f"{what}: {key!r} is a setting, not a var: write it directly on the {what} "
                "entry, not under vars",
                key_line,
            )
        result[key] = _plain(item)
    return result


def _plain(value: object) -> object:
    """Strip the line-tracking containers from free-form vars."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _check_name(name: object, kind: str, line: int, ctx: _Context) -> str:
    if not isinstance(name, str):
        raise ctx.error(f"{kind} name {name!r} must be a string (quote it)", line)
    if name in _RESERVED_NAMES:
        raise ctx.error(f"{kind} name {name!r} is reserved: 'all' always means every host", line)
    if not _NAME.fullmatch(name):
        raise ctx.error(
            f"{kind} name {name!r} may use only letters, digits and _ . - "
            "(and start with a letter, digit or _)",
            line,
        )
    return name


# --------------------------------------------------------------------------- hosts


@dataclass
class _HostEntry:
    name: str
    line: int
    address: str
    groups: tuple[str, ...]
    layer: _Layer


def _expand_address(template: str, name: str, item: str, number: int | None, entry: str) -> str:
    """Fill ``{}``, ``{n}`` and ``{name}`` in an address template."""

    def fill(match: re.Match[str]) -> str:
        field_name = match.group(1).strip()
        if field_name == "name":
            return name
        if field_name in ("", "n") and not is_range(entry):
            raise _Invalid(
                f"uses {{{field_name}}} but {entry!r} is not a range; only range entries "
                "like web[01:03] fill it"
            )
        if field_name == "":
            return item
        if field_name == "n":
            if number is None:
                raise _Invalid("uses {n} but the range is not numeric; use {} for letters")
            return str(number)
        raise _Invalid(f"has unknown placeholder {{{field_name}}}; use {{}}, {{n}} or {{name}}")

    return _PLACEHOLDER.sub(fill, template)


def _parse_host_entries(
    raw_hosts: LineMap, group_names: set[str], ctx: _Context
) -> list[_HostEntry]:
    entries: list[_HostEntry] = []
    first_line: dict[str, tuple[int, str]] = {}
    for raw_name, value in raw_hosts.items():
        line = raw_hosts.line_of(raw_name)
        if not isinstance(raw_name, str):
            raise ctx.error(f"host name {raw_name!r} must be a string (quote it)", line)
        what = f"host range {raw_name!r}" if is_range(raw_name) else f"host {raw_name!r}"
        try:
            items = expand_range(raw_name)
        except ValueError as bad:
            raise ctx.error(str(bad), line) from None
        raw = _require_mapping(value, what, line, ctx)
        layer = _parse_layer(raw, what, HOST_KEYS, ctx)
        groups = _parse_host_groups(raw, what, group_names, ctx)
        template = raw.get("address")
        if template is not None:
            try:
                _check_text(template)
            except _Invalid as bad:
                raise ctx.error(f"{what}: address {bad}", raw.line_of("address")) from None
        if len(entries) + len(items) > MAX_HOSTS:
            raise ctx.error(
                f"more than {MAX_HOSTS:,} hosts; patchtui reads at most that many from one "
                "inventory",
                line,
            )
        for item in items:
            _check_name(item.name, "host", line, ctx)
            if item.name in group_names:
                raise ctx.error(
                    f"host {item.name!r} has the same name as a group; patterns could not "
                    "tell them apart",
                    line,
                )
            if item.name in first_line:
                earlier_line, earlier_entry = first_line[item.name]
                origin = "" if earlier_entry == item.name else f" (from {earlier_entry})"
                raise ctx.error(
                    f"duplicate host {item.name!r}: already defined at line {earlier_line}{origin}",
                    line,
                )
            first_line[item.name] = (line, raw_name)
            if template is None:
                address = item.name
            else:
                try:
                    address = _expand_address(
                        cast(str, template), item.name, item.item, item.number, raw_name
                    )
                except _Invalid as bad:
                    raise ctx.error(f"{what}: address {bad}", raw.line_of("address")) from None
            entries.append(_HostEntry(item.name, line, address, groups, layer))
    return entries


def _parse_host_groups(
    raw: LineMap, what: str, group_names: set[str], ctx: _Context
) -> tuple[str, ...]:
    value = raw.get("groups")
    if value is None:
        return ()
    line = raw.line_of("groups")
    if not isinstance(value, LineList):
        raise ctx.error(f"{what}: groups must be a list, e.g. groups: [web, prod]", line)
    groups: list[str] = []
    for index, group in enumerate(value):
        item_line = value.line_of(index)
        if not isinstance(group, str):
            raise ctx.error(f"{what}: group {group!r} must be a name", item_line)
        if group not in group_names:
            declared = ", ".join(sorted(group_names)) or "none"
            hint = _did_you_mean(group, group_names)
            raise ctx.error(
                f"{what}: unknown group {group!r}{hint}; declare it under groups: "
                f"(declared: {declared})",
                item_line,
            )
        if group in groups:
            raise ctx.error(f"{what}: group {group!r} listed twice", item_line)
        groups.append(group)
    return tuple(groups)


def _merge(layers: Iterable[_Layer]) -> _Layer:
    merged = _Layer()
    for layer in layers:
        merged.settings.update(layer.settings)
        merged.labels.update(layer.labels)
        merged.vars.update(layer.vars)
        merged.lines.update(layer.lines)
    return merged


def _build_host(entry: _HostEntry, merged: _Layer) -> Host:
    settings = merged.settings
    return Host(
        name=entry.name,
        address=entry.address,
        port=cast(int, settings.get("port", 22)),
        user=cast("str | None", settings.get("user")),
        groups=entry.groups,
        labels=dict(merged.labels),
        become=cast(bool, settings.get("become", False)),
        become_user=cast(str, settings.get("become_user", "root")),
        package_manager=cast("str | None", settings.get("package_manager")),
        identity_file=cast("str | None", settings.get("identity_file")),
        jump_host=cast("str | None", settings.get("jump_host")),
        host_key_policy=cast(
            HostKeyPolicy, settings.get("host_key_policy", DEFAULT_HOST_KEY_POLICY.get())
        ),
        known_hosts=cast("str | None", settings.get("known_hosts")),
        connect_timeout=cast(float, settings.get("connect_timeout", 10.0)),
        vars=dict(merged.vars),
    )


def _check_jump_hosts(hosts: list[Host], lines: dict[str, int], ctx: _Context) -> None:
    """A jump host is an inventory host name or ``[user@]host[:port]``; no loops."""
    by_name = {host.name: host for host in hosts}
    for host in hosts:
        if host.jump_host is None:
            continue
        line = lines.get(host.name)
        if host.jump_host not in by_name:
            match = _JUMP_SPEC.fullmatch(host.jump_host)
            if match is None:
                raise ctx.error(
                    f"host {host.name!r}: jump_host {host.jump_host!r} must be an inventory "
                    "host name or [user@]host[:port]",
                    line,
                )
            port = match.group("port")
            if port is not None and not 1 <= int(port) <= 65535:
                raise ctx.error(
                    f"host {host.name!r}: jump_host {host.jump_host!r} port must be 1..65535", line
                )
            continue
        # Follow the chain of inventory jump hosts; a loop would make the
        # transport connect forever.
        chain = [host.name]
        current: Host | None = host
        while current is not None and current.jump_host in by_name:
            next_name = current.jump_host
            if next_name in chain:
                loop = " -> ".join([*chain, next_name])
                raise ctx.error(f"host {host.name!r}: jump_host loop {loop}", line)
            chain.append(next_name)
            current = by_name[next_name]


# --------------------------------------------------------------------------- API


def parse_inventory(text: str, source: str, *, base_dir: str | Path | None = None) -> Inventory:
    """Parse inventory YAML ``text``; ``source`` names it in error messages.

    Relative ``identity_file`` and ``known_hosts`` paths are joined to
    ``base_dir`` (``load_inventory`` passes the file's directory); without it
    they stay as written. No I/O happens here.
    """
    ctx = _Context(source=source, base_dir=Path(base_dir) if base_dir is not None else None)
    data = read_yaml(text, source)
    if data is None:
        raise ctx.error("inventory is empty; expected a mapping with a 'hosts:' section", None)
    if not isinstance(data, LineMap):
        raise ctx.error(
            f"the top level must be a mapping with 'hosts:' (and optional 'defaults:', "
            f"'groups:'), got {_type_name(data)}",
            1,
        )
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ctx.error(_unknown_key(key, "top level", TOP_LEVEL_KEYS), data.line_of(key))

    defaults_raw = _require_mapping(data.get("defaults"), "defaults", data.line_of("defaults"), ctx)
    defaults = _parse_layer(defaults_raw, "defaults", LAYER_KEYS, ctx)

    groups_raw = _require_mapping(data.get("groups"), "groups", data.line_of("groups"), ctx)
    group_layers: dict[str, _Layer] = {}
    for group_name, value in groups_raw.items():
        line = groups_raw.line_of(group_name)
        name = _check_name(group_name, "group", line, ctx)
        what = f"group {name!r}"
        raw = _require_mapping(value, what, line, ctx)
        group_layers[name] = _parse_layer(raw, what, LAYER_KEYS, ctx)

    if "hosts" not in data or data["hosts"] is None:
        raise ctx.error("inventory defines no hosts; add a 'hosts:' section", data.line_of("hosts"))
    hosts_raw = _require_mapping(data["hosts"], "hosts", data.line_of("hosts"), ctx)
    if not hosts_raw:
        raise ctx.error("inventory defines no hosts; 'hosts:' is empty", hosts_raw.line)
    entries = _parse_host_entries(hosts_raw, set(group_layers), ctx)

    hosts: list[Host] = []
    for entry in entries:
        layers = [defaults, *(group_layers[group] for group in entry.groups), entry.layer]
        hosts.append(_build_host(entry, _merge(layers)))
    _check_jump_hosts(hosts, {entry.name: entry.line for entry in entries}, ctx)

    members: dict[str, tuple[str, ...]] = {
        group: tuple(host.name for host in hosts if group in host.groups) for group in group_layers
    }
    return Inventory(source=source, hosts=tuple(hosts), groups=members)


def load_inventory(
    path: str | Path, *, default_host_key_policy: HostKeyPolicy | None = None
) -> Inventory:
    """Read and parse the inventory at ``path``, whatever its format.

    patchtui YAML, Ansible INI/YAML/``--list`` JSON, an executable dynamic
    inventory script, or ``sshconfig:[PATH]`` (see ``ansible.detect_format``).
    ``default_host_key_policy`` (config.toml) applies to hosts that set none.
    """
    if default_host_key_policy is None:
        return _load_any(path)
    token = DEFAULT_HOST_KEY_POLICY.set(default_host_key_policy)
    try:
        return _load_any(path)
    finally:
        DEFAULT_HOST_KEY_POLICY.reset(token)


def _load_any(path: str | Path) -> Inventory:
    kind = detect_format(path)
    if kind == "sshconfig":
        return load_ssh_config_inventory(str(path))
    if kind != "patchtui":
        return load_ansible(path, kind).inventory
    return _load_patchtui_inventory(path)


def _load_patchtui_inventory(path: str | Path) -> Inventory:
    """Read and parse the patchtui YAML inventory file at ``path``."""
    source = str(path)
    try:
        file_path = expand_user(path)
        text = read_input_text(file_path)
    except FileNotFoundError:
        raise InventoryError("inventory file not found", where=source) from None
    except IsADirectoryError:
        raise InventoryError("is a directory, not an inventory file", where=source) from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"not UTF-8 text ({exc.reason})", where=source) from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory: {exc.strerror}", where=source) from None
    except ValueError as exc:
        raise InventoryError(str(exc), where=source) from None
    return parse_inventory(text, source, base_dir=file_path.resolve().parent)
