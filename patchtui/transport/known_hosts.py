"""OpenSSH ``known_hosts`` files: parse, match a host, record a first-seen key.

patchtui decides host-key trust itself instead of leaving it to asyncssh,
because asyncssh ignores ``StrictHostKeyChecking`` and because a changed key
must be reported with the file and line of the old entry. This module keeps
that logic pure (text in, entries out) apart from the two small I/O helpers
at the bottom, so it can be unit-tested without a server.

Matching follows OpenSSH rather than asyncssh: a host on a non-default port
is looked up only as ``[host]:port`` (asyncssh falls back to the bare host
name, which would let a key of another service on the same machine count),
and only the host name is matched, not the peer IP (OpenSSH's
``CheckHostIP`` has defaulted to ``no`` since 8.5; matching IPs makes every
host behind one NAT address look "changed").
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SSH_PORT = 22
MARKERS: tuple[str, ...] = ("cert-authority", "revoked")
"""Markers OpenSSH allows before the host field (written with a leading ``@``)."""

_HASH_MAGIC = "|1|"


@dataclass(frozen=True)
class KnownHostEntry:
    """One key line of a known_hosts file, with where it came from."""

    path: Path
    line_number: int
    """1-based, as an editor shows it, so a message can point at the line."""
    marker: str | None
    """None for a plain host key, else one of MARKERS."""
    hosts: str
    """The raw host field: a comma list of patterns or one ``|1|salt|hash``."""
    key_type: str
    key_base64: str

    @property
    def key_blob(self) -> bytes:
        """The key in SSH wire format (base64 validated when parsed)."""
        return base64.b64decode(self.key_base64)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line_number}"

    @property
    def openssh_public_key(self) -> str:
        """``type base64``: what asyncssh.import_public_key accepts."""
        return f"{self.key_type} {self.key_base64}"

    def matches(self, name: str) -> bool:
        """Whether ``name`` (``host`` or ``[host]:port``) is covered by this line."""
        if self.hosts.startswith(_HASH_MAGIC):
            return _hashed_name_matches(self.hosts, name)
        return host_patterns_match(self.hosts, name)


def host_key_name(host: str, port: int | None) -> str:
    """The name OpenSSH files a host under: bare for port 22, else ``[host]:port``."""
    if port is None or port == DEFAULT_SSH_PORT:
        return host
    return f"[{host}]:{port}"


def host_patterns_match(patterns: str, name: str) -> bool:
    """OpenSSH pattern-list semantics: ``*``/``?`` wildcards, ``!`` negation wins.

    Host names are case-insensitive, so both sides are lower-cased.
    """
    name = name.lower()
    matched = False
    for raw in patterns.split(","):
        pattern = raw.strip().lower()
        if not pattern:
            continue
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if _wildcard_match(pattern, name):
            if negated:
                return False
            matched = True
    return matched


def _wildcard_match(pattern: str, name: str) -> bool:
    """OpenSSH wildcards are only ``*`` and ``?``; ``[`` is literal (``[host]:port``).

    fnmatch would read ``[127.0.0.1]`` as a character class, hence this.
    Most lines hold plain names: compare those directly, since a fleet's
    known_hosts is checked once per connection (1,000 x 1,000 otherwise).
    """
    if "*" not in pattern and "?" not in pattern:
        return pattern == name
    return _wildcard_regex(pattern).fullmatch(name) is not None


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(regex, flags=re.DOTALL)


def _hashed_name_matches(hashed: str, name: str) -> bool:
    """``|1|base64(salt)|base64(HMAC-SHA1(salt, name))`` as written by ``ssh-keygen -H``."""
    try:
        _, _, salt_b64, digest_b64 = hashed.split("|")
        salt = base64.b64decode(salt_b64, validate=True)
        digest = base64.b64decode(digest_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    expected = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(expected, digest)


def parse_known_hosts(text: str, path: Path) -> list[KnownHostEntry]:
    """Parse known_hosts text; lines that are not a valid entry are skipped.

    Skipping (as OpenSSH does) rather than failing keeps one broken line from
    locking out every host; a skipped line can never make a key trusted.
    """
    entries: list[KnownHostEntry] = []
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        entry = _parse_line(raw_line, path, line_number)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_line(raw_line: str, path: Path, line_number: int) -> KnownHostEntry | None:
    line = raw_line.strip()
    if not line or line.startswith("#"):
        return None
    fields = line.split()
    marker: str | None = None
    if fields[0].startswith("@"):
        marker = fields[0][1:]
        if marker not in MARKERS:
            return None
        fields = fields[1:]
    # host field, key type, base64 key; anything after is a comment.
    if len(fields) < 3:
        return None
    hosts, key_type, key_base64 = fields[0], fields[1], fields[2]
    try:
        base64.b64decode(key_base64, validate=True)
    except (ValueError, binascii.Error):
        return None
    return KnownHostEntry(
        path=path,
        line_number=line_number,
        marker=marker,
        hosts=hosts,
        key_type=key_type,
        key_base64=key_base64,
    )


def match_entries(
    entries: Iterable[KnownHostEntry], host: str, port: int | None
) -> list[KnownHostEntry]:
    """All entries (any marker) that apply to ``host`` on ``port``."""
    name = host_key_name(host, port)
    return [entry for entry in entries if entry.matches(name)]


def format_entry(host: str, port: int | None, key_type: str, key_base64: str) -> str:
    """One known_hosts line (without newline) in the form OpenSSH writes."""
    return f"{host_key_name(host, port)} {key_type} {key_base64}"


# --- I/O -------------------------------------------------------------------


def read_known_hosts_files(paths: Sequence[Path]) -> list[KnownHostEntry]:
    """Entries of every readable file, in order; missing or unreadable files are skipped."""
    entries: list[KnownHostEntry] = []
    seen: set[Path] = set()
    for path in paths:
        resolved = path.expanduser()
        if resolved in seen:
            continue
        seen.add(resolved)
        entries.extend(_parsed_file(resolved))
    return entries


# path -> ((mtime_ns, size), entries): a run opens hundreds of connections and
# each one consults the same files; re-parse only when a file changed.
_parsed_cache: dict[Path, tuple[tuple[int, int], list[KnownHostEntry]]] = {}


def _parsed_file(path: Path) -> list[KnownHostEntry]:
    try:
        stat = path.stat()
    except OSError:
        _parsed_cache.pop(path, None)
        return []
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _parsed_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    entries = parse_known_hosts(text, path)
    _parsed_cache[path] = (stamp, entries)
    return entries


_NO_LINKS = os.O_NOFOLLOW | os.O_CLOEXEC


class KnownHostsWriter:
    """Appends first-seen keys to patchtui's own known_hosts under a file lock.

    The lock (``flock`` on a sidecar ``.lock`` file) serialises patchtui
    processes; inside it the file is re-read so two runs that meet the same
    new host cannot record two different keys for it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def record_if_absent(
        self, host: str, port: int | None, key_type: str, key_base64: str
    ) -> KnownHostEntry | None:
        """Record the key unless the host is already known.

        Returns None when the key was recorded (or is already there with the
        same key), or the conflicting entry when the file already holds a
        different key for the host: the caller must then refuse the host.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        # Never through a link (ELOOP): the file lives in the data directory, and
        # root following a planted link would append to any file on the system.
        lock_fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | _NO_LINKS, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                return self._record_locked(host, port, key_type, key_base64)
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        finally:
            os.close(lock_fd)

    def _record_locked(
        self, host: str, port: int | None, key_type: str, key_base64: str
    ) -> KnownHostEntry | None:
        try:
            existing_text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            existing_text = ""
        new_blob = base64.b64decode(key_base64)
        for entry in match_entries(parse_known_hosts(existing_text, self.path), host, port):
            if entry.marker is not None:
                continue
            if entry.key_blob == new_blob:
                return None
            return entry
        line = format_entry(host, port, key_type, key_base64) + "\n"
        if existing_text and not existing_text.endswith("\n"):
            line = "\n" + line
        # O_APPEND: one write() of one short line lands whole at the end even
        # if something outside patchtui appends concurrently.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NO_LINKS, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return None
