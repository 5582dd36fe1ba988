"""Inventories: patchtui YAML, Ansible INI/YAML/dynamic, ssh config aliases; --limit patterns."""

from __future__ import annotations

from patchtui.inventory.ansible import AnsibleInventory, detect_format, load_ansible
from patchtui.inventory.loader import load_inventory, parse_inventory
from patchtui.inventory.model import Host, Inventory
from patchtui.inventory.patterns import PatternTerm, is_all, parse_pattern, select_hosts
from patchtui.inventory.sshconfig import load_ssh_config, load_ssh_config_inventory

__all__ = [
    "AnsibleInventory",
    "Host",
    "Inventory",
    "PatternTerm",
    "detect_format",
    "is_all",
    "load_ansible",
    "load_inventory",
    "load_ssh_config",
    "load_ssh_config_inventory",
    "parse_inventory",
    "parse_pattern",
    "select_hosts",
]
