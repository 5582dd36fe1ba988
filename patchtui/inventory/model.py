"""Validated inventory models: what the rest of patchtui knows about a host."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

HostKeyPolicy = Literal["strict", "accept-new"]
HOST_KEY_POLICIES: tuple[str, ...] = ("strict", "accept-new")
DEFAULT_HOST_KEY_POLICY: ContextVar[HostKeyPolicy] = ContextVar(
    "default_host_key_policy", default="strict"
)
"""The policy of hosts whose inventory sets none; ``load_inventory`` sets it from config.toml."""
PACKAGE_MANAGERS: tuple[str, ...] = ("apt", "dnf", "yum", "zypper", "apk")
MAX_HOSTS = 100_000
"""Hosts one inventory may define (ranges included): far beyond one operator's fleet, and a
bound on the memory a typo such as ``web[0:99999999]`` repeated on many lines can take."""


@dataclass(frozen=True)
class Host:
    """One host as the inventory defines it, group defaults already applied."""

    name: str
    address: str
    port: int = 22
    user: str | None = None
    groups: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    become: bool = False
    become_user: str = "root"
    package_manager: str | None = None
    identity_file: str | None = None
    jump_host: str | None = None
    host_key_policy: HostKeyPolicy = "strict"
    known_hosts: str | None = None
    """Extra known_hosts file for this host (the lab writes one)."""
    connect_timeout: float = 10.0
    vars: Mapping[str, object] = field(default_factory=dict)
    """Anything else the inventory gave, kept for later features and display."""

    @property
    def cluster(self) -> str | None:
        return self.labels.get("cluster")


@dataclass(frozen=True)
class Inventory:
    """All hosts and groups of one inventory file, in file order."""

    source: str
    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]
    """group name -> host names in it."""
    warnings: tuple[str, ...] = ()
    """What the loader read but patchtui does not use (one line each, shown on stderr)."""

    def host(self, name: str) -> Host | None:
        for host in self.hosts:
            if host.name == name:
                return host
        return None
