#!/usr/bin/env python3
"""A dynamic inventory shaped like Ansible's developer guide example: --list prints
groups and _meta.hostvars; --host prints one host's vars."""

import json
import sys

INVENTORY = {
    "group001": {
        "hosts": ["host001", "host002"],
        "vars": {"var1": True, "ansible_user": "deploy"},
        "children": ["group002"],
    },
    "group002": {"hosts": ["host003", "host004"], "vars": {"var2": 500}, "children": []},
    "_meta": {
        "hostvars": {
            "host001": {"var001": "value", "ansible_host": "10.1.0.1"},
            "host002": {"var002": "value", "ansible_port": "2201"},
            "host003": {"ansible_become": "yes", "ansible_password": "hunter2"},
        }
    },
}

if sys.argv[1:] == ["--list"]:
    json.dump(INVENTORY, sys.stdout, indent=2)
elif sys.argv[1:2] == ["--host"]:
    json.dump(INVENTORY["_meta"]["hostvars"].get(sys.argv[2], {}), sys.stdout)
else:
    sys.exit("usage: inventory.py --list | --host NAME")
