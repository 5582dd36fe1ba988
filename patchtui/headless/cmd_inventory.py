"""``patchtui inventory show``: each host's effective connection settings and where each came from.

On-call engineers bring inventories from Ansible and aliases from
``~/.ssh/config``; when a connection goes to the wrong place this command
answers "why that address / port / user / key / jump host?" with a source per
value: ``inventory hosts.ini:12``, ``group web, ...``, ``ansible var
ansible_port, ...``, ``ssh config ~/.ssh/config:12`` or ``default``.

The ssh-config values are asyncssh's own resolution for the address the
transport will connect to, resolved the way ``SshConnector`` asks (port only
when not 22, user only when set), so show and connect agree.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from patchtui.exit_codes import ExitCode

if TYPE_CHECKING:
    from patchtui.inventory.model import Host, Inventory
    from patchtui.inventory.sshconfig import SshConfig

DEFAULT = "default"


def register(commands: Any, kit: Any) -> None:
    inventory = commands.add_parser(
        "inventory",
        help="show hosts as patchtui reads them (Ansible INI/YAML/dynamic, ssh config aliases)",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    actions = inventory.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="each host's effective address, port, user, key, jump host... and their sources",
        description=(
            "-i takes a patchtui YAML inventory, an Ansible INI or YAML inventory, an "
            "executable dynamic inventory (run with --list), or sshconfig:[PATH] to use every "
            "Host alias of an ssh config (default ~/.ssh/config) as the inventory."
        ),
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    kit.add_selection(show)
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    show.add_argument(
        "--ssh-config",
        metavar="PATH",
        help="ssh client config to resolve aliases with (default ~/.ssh/config, as connect uses)",
    )
    show.set_defaults(handler=_show)


def print_warnings(inventory: Inventory, stream: IO[str] | None = None) -> None:
    """One ``patchtui: warning:`` line on stderr per thing the inventory reader did not use."""
    from patchtui.textsafe import one_line

    out = stream or sys.stderr
    for warning in inventory.warnings:
        # Warnings quote inventory values (ansible_connection=...): one safe line each.
        out.write(f"patchtui: warning: {one_line(warning)}\n")
    out.flush()


@dataclass(frozen=True)
class Setting:
    name: str
    value: object
    source: str


def load_with_sources(path: str) -> tuple[str, Inventory, Mapping[str, Mapping[str, str]]]:
    """(format, inventory, host -> field -> source) for any inventory ``-i`` accepts."""
    from patchtui.inventory.ansible import detect_format, load_ansible
    from patchtui.inventory.loader import load_inventory
    from patchtui.inventory.sshconfig import SSHCONFIG_PREFIX, load_ssh_config

    kind = detect_format(path)
    if kind == "sshconfig":
        config = load_ssh_config(path[len(SSHCONFIG_PREFIX) :] or "~/.ssh/config")
        inventory = load_inventory(path)
        aliases = dict(config.aliases())
        sources = {
            host.name: {"address": f"ssh config alias, {aliases.get(host.name, '?')}"}
            for host in inventory.hosts
        }
        return kind, inventory, sources
    if kind == "patchtui":
        inventory = load_inventory(path)
        return kind, inventory, _patchtui_sources(path, inventory)
    loaded = load_ansible(path, kind)
    return kind, loaded.inventory, loaded.sources


def _patchtui_sources(path: str, inventory: Inventory) -> dict[str, dict[str, str]]:
    """Which line of a patchtui YAML inventory set each field: host, group or defaults."""
    from patchtui.inventory.loader import SETTING_KEYS
    from patchtui.inventory.ranges import expand_range
    from patchtui.inventory.yamlread import LineMap, read_yaml

    source = str(path)
    data = read_yaml(Path(path).expanduser().read_text(encoding="utf-8"), source)
    assert isinstance(data, LineMap)  # load_inventory already validated it

    def mapping(value: object) -> LineMap:
        if isinstance(value, LineMap):
            return value
        empty = LineMap()
        empty.key_lines = {}
        return empty

    defaults = mapping(data.get("defaults"))
    groups = mapping(data.get("groups"))
    entries: dict[str, LineMap] = {}
    entry_lines: dict[str, int] = {}
    raw_hosts = mapping(data.get("hosts"))
    for raw_name, body in raw_hosts.items():
        for item in expand_range(str(raw_name)):
            entries[item.name] = mapping(body)
            entry_lines[item.name] = raw_hosts.line_of(raw_name)
    result: dict[str, dict[str, str]] = {}
    for host in inventory.hosts:
        entry = entries.get(host.name) or mapping(None)
        found: dict[str, str] = {}
        for key in (*SETTING_KEYS, "labels"):
            if key in entry:
                found[key] = f"inventory {source}:{entry.line_of(key)}"
                continue
            for group in reversed(host.groups):
                body = mapping(groups.get(group))
                if key in body:
                    found[key] = f"group {group}, {source}:{body.line_of(key)}"
                    break
            else:
                if key in defaults:
                    found[key] = f"defaults, {source}:{defaults.line_of(key)}"
        if "address" in entry:
            found["address"] = f"inventory {source}:{entry.line_of('address')}"
        else:
            found["address"] = f"host name, {source}:{entry_lines.get(host.name, '?')}"
        result[host.name] = found
    return result


def effective_settings(
    host: Host, sources: Mapping[str, str], ssh_config: SshConfig | None
) -> list[Setting]:
    """What the transport will use for ``host``, mirroring ``SshConnector.connect``."""
    from patchtui import paths
    from patchtui.inventory.sshconfig import Resolution, resolve

    ssh = (
        resolve(ssh_config, host.address, host.user, host.port)
        if ssh_config is not None
        else Resolution()
    )

    def from_inventory(field: str, value: object) -> Setting:
        return Setting(field, value, sources.get(field, DEFAULT))

    settings: list[Setting] = []
    hostname = ssh.values.get("Hostname")
    if hostname is not None:
        settings.append(
            Setting("address", hostname.value, f"{hostname.source} (alias {host.address})")
        )
    else:
        settings.append(from_inventory("address", host.address))
    port = ssh.values.get("Port")
    if host.port == 22 and port is not None:
        # The transport leaves port 22 unset so an alias can supply its own.
        settings.append(Setting("port", int(port.value), port.source))
    else:
        settings.append(from_inventory("port", host.port))
    user = ssh.values.get("User")
    if host.user is None and user is not None:
        settings.append(Setting("user", user.value, user.source))
    elif host.user is None:
        settings.append(Setting("user", getpass.getuser(), "default (local user)"))
    else:
        settings.append(from_inventory("user", host.user))
    if host.identity_file is None and ssh.identity_files:
        settings.append(
            Setting(
                "identity_file",
                ", ".join(item.value for item in ssh.identity_files),
                ssh.identity_files[0].source,
            )
        )
    elif host.identity_file is None:
        settings.append(Setting("identity_file", None, "default (ssh-agent, ~/.ssh/id_*)"))
    else:
        settings.append(from_inventory("identity_file", host.identity_file))
    jump = ssh.values.get("ProxyJump")
    if host.jump_host is None and jump is not None:
        settings.append(Setting("jump_host", jump.value, jump.source))
    else:
        settings.append(from_inventory("jump_host", host.jump_host))
    settings.append(from_inventory("become", host.become))
    settings.append(from_inventory("become_user", host.become_user))
    settings.append(from_inventory("host_key_policy", host.host_key_policy))
    known = [str(paths.user_known_hosts_path()), str(paths.own_known_hosts_path())]
    known_source = DEFAULT
    if host.known_hosts:
        known.append(host.known_hosts)
        known_source = f"{DEFAULT} + {sources.get('known_hosts', DEFAULT)}"
    ignored = ssh.values.get("UserKnownHostsFile")
    if ignored is not None:
        # The transport always checks host keys itself; a config cannot turn that off.
        known_source += f" (UserKnownHostsFile at {ignored.source} is not used)"
    settings.append(Setting("known_hosts", ", ".join(known), known_source))
    settings.append(Setting("groups", ", ".join(host.groups), "inventory"))
    return settings


def _show(args: argparse.Namespace) -> int:
    from patchtui import paths
    from patchtui.headless.output import emit_json, render_table
    from patchtui.inventory.patterns import select_hosts
    from patchtui.inventory.sshconfig import load_ssh_config

    kind, inventory, sources = load_with_sources(args.inventory)
    print_warnings(inventory)
    hosts = select_hosts(inventory, args.limit)
    config_path = Path(args.ssh_config) if args.ssh_config else paths.user_ssh_config_path()
    ssh_config = load_ssh_config(config_path) if config_path.expanduser().is_file() else None
    if ssh_config is not None and ssh_config.match_blocks:
        sys.stderr.write(
            "patchtui: warning: ssh config Match blocks at "
            f"{', '.join(ssh_config.match_blocks)} are applied when connecting; values from "
            "them show the file, not the line\n"
        )
    rows: list[list[object]] = []
    for host in hosts:
        settings = effective_settings(host, sources.get(host.name, {}), ssh_config)
        if args.json:
            emit_json(
                {
                    "type": "host",
                    "host": host.name,
                    "settings": {
                        item.name: {"value": item.value, "source": item.source} for item in settings
                    },
                }
            )
            continue
        for index, item in enumerate(settings):
            value = "-" if item.value is None or item.value == "" else item.value
            if isinstance(value, bool):
                value = "yes" if value else "no"
            rows.append([host.name if index == 0 else "", item.name, value, item.source])
    summary = {
        "type": "summary",
        "inventory": str(args.inventory),
        "format": kind,
        "hosts": len(hosts),
        "warnings": len(inventory.warnings),
    }
    if args.json:
        emit_json(summary)
    else:
        print(render_table(["HOST", "SETTING", "VALUE", "SOURCE"], rows))
        print(
            f"{len(hosts)} host(s) from {args.inventory} ({kind}); "
            f"{len(inventory.warnings)} warning(s)"
        )
    return int(ExitCode.OK)
