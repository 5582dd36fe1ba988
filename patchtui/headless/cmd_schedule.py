"""``patchtui schedule``: systemd timers (or crontab lines) for recurring scans and patch
runs that follow the hosts' maintenance windows.

This module also adds ``--format table|matrix`` and ``--wait-for-window`` to ``patch``
(declared here because that parser lives in cli.py; patch_command reads them).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, kit: Any) -> None:
    _extend_patch(commands)


def _extend_patch(commands: Any) -> None:
    patch = commands.choices.get("patch")
    if patch is None:
        return
    patch.add_argument(
        "--format",
        choices=("table", "matrix"),
        default="table",
        help="with --dry-run, matrix: which package goes to which hosts at which version, "
        "hosts getting the identical set grouped into one row",
    )


def _handler(args: argparse.Namespace) -> int:
    raise NotImplementedError
