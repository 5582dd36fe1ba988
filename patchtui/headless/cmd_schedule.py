"""``patchtui schedule``: systemd timers (or crontab lines) for recurring scans and patch
runs that follow the hosts' maintenance windows.

This module also adds ``--format table|matrix`` and ``--wait-for-window`` to ``patch``
(declared here because that parser lives in cli.py; patch_command reads them).
"""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_SCAN_AT = "daily 06:00 UTC"


def register(commands: Any, kit: Any) -> None:
    _extend_patch(commands)
    schedule = commands.add_parser(
        "schedule",
        help="write systemd timers (and crontab lines) for recurring scans and patch runs "
        "in each maintenance window",
        description="Patch flags go after '--', e.g. "
        "patchtui schedule -i hosts.yaml --output units -- --security-only --canary 1",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    kit.add_selection(schedule)
    kit.add_db(schedule)
    when = schedule.add_argument_group("when")
    when.add_argument(
        "--scan-at",
        default=DEFAULT_SCAN_AT,
        metavar="'DAYS HH:MM [TZ]'",
        help=f"when the recurring scan runs (default {DEFAULT_SCAN_AT!r})",
    )
    when.add_argument("--no-scan", action="store_true", help="no scan timer")
    when.add_argument(
        "--patch-at",
        metavar="'DAYS HH:MM [TZ]'",
        help="when hosts without a maintenance window are patched (default: they are not "
        "scheduled, and the output names them)",
    )
    where = schedule.add_argument_group("where")
    where.add_argument("--output", metavar="DIR", help="write the files here (else print them)")
    where.add_argument("--force", action="store_true", help="replace files that exist")
    where.add_argument(
        "--install",
        action="store_true",
        help="install the units and enable the timers (/etc/systemd/system, or --user)",
    )
    where.add_argument("--user", action="store_true", help="user units (systemctl --user)")
    where.add_argument(
        "--root",
        metavar="DIR",
        default="/",
        help="with --install: install under this root directory (default /); "
        "systemctl --root only links the timers there",
    )
    how = schedule.add_argument_group("how the runs start")
    how.add_argument(
        "--run-as",
        metavar="USER",
        help="User= of system units (default: you; its HOME holds the SSH keys and database)",
    )
    how.add_argument(
        "--on-failure", metavar="UNIT", help="start this unit when a run fails (OnFailure=)"
    )
    how.add_argument(
        "--prefix", default="patchtui", metavar="NAME", help="unit name prefix (default patchtui)"
    )
    how.add_argument(
        "--patchtui",
        metavar="PATH",
        help="the patchtui the units run (default: the one on PATH, else this Python's)",
    )
    schedule.add_argument("--json", action="store_true", help="one JSON object per line")
    schedule.add_argument(
        "patch_flags", nargs="*", metavar="-- PATCH_FLAGS", help="flags for 'patchtui patch'"
    )
    schedule.set_defaults(handler=_handler)


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
    patch.add_argument(
        "--wait-for-window",
        action="store_true",
        help="hosts outside their maintenance window wait until it opens (each one's wait "
        "is printed; Ctrl+C stops waiting) instead of being skipped",
    )


def _handler(args: argparse.Namespace) -> int:
    from patchtui.headless.schedule_command import run_schedule_command

    return run_schedule_command(args)
