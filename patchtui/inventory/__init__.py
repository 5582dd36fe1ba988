"""Inventories: YAML files -> validated Host models; --limit patterns."""

from __future__ import annotations

from patchtui.inventory.model import Host, Inventory

__all__ = ["Host", "Inventory"]
