"""OpenSSH client config (``~/.ssh/config``): Host aliases and where each setting comes from.

patchtui does not re-implement ssh_config for connecting: the transport hands
the config file to asyncssh, which resolves ``HostName``, ``Port``, ``User``,
``IdentityFile`` and ``ProxyJump`` for the address it is given. This module
exists for two other jobs:

* **aliases as an inventory** - ``hosts_from_ssh_config`` turns every
  non-wildcard ``Host`` alias into a patchtui host whose address is the alias
  (``-i sshconfig:`` or ``-i sshconfig:PATH``, see ``load_ssh_config_inventory``);
* **provenance** - ``resolve`` tells ``patchtui inventory show`` the effective
  value of each connection setting *and the file:line it came from*. The values
  are taken from asyncssh's own resolution, so show and connect always agree;
  this parser only attributes them to a line.

What the line attribution understands, as OpenSSH does: the first value
obtained wins (``IdentityFile`` accumulates); ``Host`` patterns with ``*``,
``?`` and ``!`` negation (matched with asyncssh's matcher against the address
patchtui connects to); ``Include`` with globs, relative paths resolved under
``~/.ssh``, nested at most ``MAX_INCLUDE_DEPTH`` deep; ``Key=Value`` and
quoted arguments.

``Match`` blocks are *not* evaluated here (their conditions can run commands:
``Match exec``). Their settings are still applied by asyncssh at connect time,
so when asyncssh's value differs from the one found here, the source says
"ssh config <file> (Match block)" rather than naming a wrong line.
``Match all`` is treated as a plain global section.
"""

from __future__ import annotations

import getpass
import glob
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asyncssh.config import ConfigParseError, SSHClientConfig
from asyncssh.pattern import WildcardPatternList

from patchtui.errors import InventoryError
from patchtui.inventory.model import DEFAULT_HOST_KEY_POLICY, Host, Inventory
from patchtui.paths import expand_user, read_input_text

MAX_INCLUDE_DEPTH = 16
"""Bound on nested Include (OpenSSH uses the same limit); a loop would recurse forever."""

SSHCONFIG_PREFIX = "sshconfig:"
"""``-i sshconfig:`` (the user's ~/.ssh/config) or ``-i sshconfig:PATH``."""

RESOLVED_OPTIONS: tuple[str, ...] = (
    "Hostname",
    "Port",
    "User",
    "IdentityFile",
    "ProxyJump",
    "UserKnownHostsFile",
)
"""The options patchtui shows; spelled as asyncssh stores them."""

_WILDCARDS = ("*", "?")


@dataclass(frozen=True)
class Directive:
    """One ``Keyword args`` line, with the block it sits in."""

    keyword: str
    """Lower-cased keyword."""
    args: tuple[str, ...]
    location: str
    """``<file>:<line>`` as shown to the user (``~`` for the home directory)."""
    host_patterns: str | None
    """The enclosing ``Host`` block's patterns (comma-joined); None outside any Host."""
    in_match: bool = False
    """True inside a ``Match`` block other than ``Match all`` (not evaluated here)."""


@dataclass(frozen=True)
class SshConfig:
    """A parsed config: its directives in file order, Includes inlined."""

    path: str
    directives: tuple[Directive, ...]
    match_blocks: tuple[str, ...] = ()
    """Locations of Match blocks that were not evaluated."""

    def aliases(self) -> list[tuple[str, str]]:
        """Every literal (non-wildcard, non-negated) ``Host`` alias and its location."""
        found: dict[str, str] = {}
        for directive in self.directives:
            if directive.keyword != "host":
                continue
            for pattern in ",".join(directive.args).split(","):
                pattern = pattern.strip()
                if not pattern or pattern.startswith("!"):
                    continue
                if any(char in pattern for char in _WILDCARDS):
                    continue
                found.setdefault(pattern, directive.location)
        return list(found.items())


@dataclass(frozen=True)
class Resolved:
    """One effective setting from the ssh config and where it came from."""

    value: str
    source: str


@dataclass
class Resolution:
    """What the ssh config gives for one address (only options it sets)."""

    values: dict[str, Resolved] = field(default_factory=dict)
    identity_files: list[Resolved] = field(default_factory=list)


def display_path(path: str | Path) -> str:
    """``path`` with the home directory written as ``~``, as people write ssh configs."""
    text = str(path)
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


def _split_line(line: str, location: str) -> tuple[str, list[str]] | None:
    """``Keyword args`` / ``Keyword=value`` -> (lower keyword, args); None for blank/comment."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    try:
        words = shlex.split(stripped, comments=False)
    except ValueError as exc:
        raise InventoryError(f"ssh config: {exc}", where=location) from None
    if not words:
        return None
    first = words[0]
    if "=" in first:
        keyword, _, rest = first.partition("=")
        args = ([rest] if rest else []) + words[1:]
    else:
        keyword, args = first, words[1:]
        if args and args[0].startswith("="):
            args[0] = args[0][1:]
            if not args[0]:
                args = args[1:]
    return keyword.lower(), args


def parse_ssh_config(
    text: str,
    path: str,
    *,
    include_dir: Path | None = None,
    read: Callable[[Path], str] | None = None,
) -> SshConfig:
    """Parse ssh config ``text`` read from ``path``.

    ``include_dir`` is where relative ``Include`` paths are looked up (OpenSSH
    and asyncssh use ``~/.ssh``); ``read`` reads an included file (tests pass a
    dict lookup). Raises ``InventoryError`` with ``file:line`` for a bad line.
    """
    base = include_dir if include_dir is not None else Path("~/.ssh").expanduser()
    reader = read if read is not None else _read_text
    directives: list[Directive] = []
    match_blocks: list[str] = []
    _parse_into(text, path, base, reader, directives, match_blocks, depth=0, host=None, match=False)
    return SshConfig(path=path, directives=tuple(directives), match_blocks=tuple(match_blocks))


def _read_text(path: Path) -> str:
    return read_input_text(path)


def _parse_into(
    text: str,
    path: str,
    base: Path,
    reader: Callable[[Path], str],
    out: list[Directive],
    match_blocks: list[str],
    *,
    depth: int,
    host: str | None,
    match: bool,
) -> None:
    shown = display_path(path)
    for number, line in enumerate(text.splitlines(), start=1):
        location = f"{shown}:{number}"
        split = _split_line(line, location)
        if split is None:
            continue
        keyword, args = split
        if keyword == "host":
            if not args:
                raise InventoryError("ssh config: Host needs at least one pattern", where=location)
            host, match = ",".join(args), False
        elif keyword == "match":
            host = None
            match = [arg.lower() for arg in args] != ["all"]
            if match:
                match_blocks.append(location)
        elif keyword == "include":
            if depth >= MAX_INCLUDE_DEPTH:
                raise InventoryError(
                    f"ssh config: Include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)",
                    where=location,
                )
            for included in _include_paths(args, base):
                try:
                    included_text = reader(included)
                except OSError as exc:
                    raise InventoryError(
                        f"ssh config: cannot read included {included}: {exc.strerror}",
                        where=location,
                    ) from None
                # The included file's lines belong to the enclosing block, as
                # in OpenSSH; its own Host lines open blocks only inside it.
                _parse_into(
                    included_text,
                    str(included),
                    base,
                    reader,
                    out,
                    match_blocks,
                    depth=depth + 1,
                    host=host,
                    match=match,
                )
            continue
        out.append(Directive(keyword, tuple(args), location, host, match))


def _include_paths(patterns: list[str], base: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        try:
            expanded = expand_user(pattern)
        except ValueError:
            continue  # ~nosuchuser/...: matches no file, and OpenSSH skips missing includes

        full = expanded if expanded.is_absolute() else base / expanded
        found.extend(Path(name) for name in sorted(glob.glob(str(full))) if Path(name).is_file())
    return found


def load_ssh_config(path: str | Path) -> SshConfig:
    """Read and parse the ssh config at ``path`` (``InventoryError`` if unreadable)."""
    try:
        file_path = expand_user(path)
        text = read_input_text(file_path)
    except ValueError as exc:
        raise InventoryError(str(exc), where=str(path)) from None
    except FileNotFoundError:
        raise InventoryError("ssh config not found", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read ssh config: {exc}", where=str(path)) from None
    return parse_ssh_config(text, str(file_path))


def _block_applies(directive: Directive, address: str) -> bool:
    if directive.in_match:
        return False
    if directive.host_patterns is None:
        return True
    return bool(WildcardPatternList(directive.host_patterns).matches(address))


def attribute(config: SshConfig, address: str) -> Resolution:
    """Where each option would come from for ``address``, by this parser's reading alone."""
    resolution = Resolution()
    for directive in config.directives:
        if directive.keyword in ("host", "match") or not directive.args:
            continue
        if not _block_applies(directive, address):
            continue
        source = f"ssh config {directive.location}"
        if directive.keyword == "identityfile":
            resolution.identity_files.append(Resolved(directive.args[0], source))
            continue
        option = _OPTION_NAMES.get(directive.keyword)
        if option is not None and option not in resolution.values:
            resolution.values[option] = Resolved(" ".join(directive.args), source)
    return resolution


_OPTION_NAMES = {name.lower(): name for name in RESOLVED_OPTIONS}


def asyncssh_options(
    path: str | Path, address: str, user: str | None, port: int
) -> dict[str, object]:
    """What asyncssh resolves from ``path`` for a connection, exactly as the transport asks.

    The transport passes the port only when it is not 22 and the user only when
    set, so the config can supply them; the same is done here.
    """
    try:
        config = SSHClientConfig.load(
            None,
            [str(Path(path).expanduser())],
            False,
            False,
            False,
            getpass.getuser(),
            user if user is not None else (),
            address,
            port if port != 22 else (),
        )
    except (ConfigParseError, OSError) as exc:
        raise InventoryError(f"ssh config: {exc}", where=str(path)) from None
    return {name: config.get(name) for name in RESOLVED_OPTIONS if config.get(name) is not None}


def resolve(config: SshConfig, address: str, user: str | None, port: int) -> Resolution:
    """Effective ssh-config settings for a connection to ``address``, each with its source.

    Values are asyncssh's (what the connection uses); sources are the line this
    parser found for the same value, or the file with "(Match block)" when the
    value can only have come from a block not evaluated here.
    """
    truth = asyncssh_options(config.path, address, user, port)
    found = attribute(config, address)
    resolution = Resolution()
    fallback = f"ssh config {display_path(config.path)} (Match block)"
    for option, value in truth.items():
        if option == "IdentityFile":
            files = [str(item) for item in value] if isinstance(value, list) else [str(value)]
            for index, item in enumerate(files):
                source = fallback
                if index < len(found.identity_files):
                    source = found.identity_files[index].source
                resolution.identity_files.append(Resolved(item, source))
            continue
        if option == "UserKnownHostsFile" and isinstance(value, list):
            text = " ".join(str(item) for item in value)
        else:
            text = str(value)
        # asyncssh applies the caller's user/port first: those are not from the file.
        if option == "User" and user is not None:
            continue
        if option == "Port" and port != 22:
            continue
        mine = found.values.get(option)
        source = mine.source if mine is not None else fallback
        resolution.values[option] = Resolved(text, source)
    return resolution


def hosts_from_ssh_config(config: SshConfig) -> Inventory:
    """Every literal Host alias as a host whose address is the alias.

    The transport lets asyncssh resolve the alias, so HostName, Port, User,
    IdentityFile and ProxyJump all come from the config at connect time.
    """
    aliases = config.aliases()
    if not aliases:
        raise InventoryError(
            "ssh config has no Host alias without wildcards to use as a host",
            where=display_path(config.path),
        )
    policy = DEFAULT_HOST_KEY_POLICY.get()
    hosts = tuple(
        Host(name=alias, address=alias, host_key_policy=policy) for alias, _location in aliases
    )
    return Inventory(source=config.path, hosts=hosts, groups={})


def load_ssh_config_inventory(spec: str) -> Inventory:
    """``sshconfig:`` -> the user's ``~/.ssh/config``; ``sshconfig:PATH`` -> that file."""
    path = spec[len(SSHCONFIG_PREFIX) :] if spec.startswith(SSHCONFIG_PREFIX) else spec
    return hosts_from_ssh_config(load_ssh_config(path or "~/.ssh/config"))
