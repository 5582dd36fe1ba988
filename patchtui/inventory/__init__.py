"""Inventories: YAML files -> validated Host models; --limit patterns."""

from __future__ import annotations

from patchtui.inventory.loader import load_inventory, parse_inventory
from patchtui.inventory.model import Host, Inventory
from patchtui.inventory.patterns import PatternTerm, is_all, parse_pattern, select_hosts

__all__ = [
    "Host",
    "Inventory",
    "PatternTerm",
    "is_all",
    "load_inventory",
    "parse_inventory",
    "parse_pattern",
    "select_hosts",
]
