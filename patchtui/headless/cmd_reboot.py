"""``patchtui reboot``: reboot hosts in canary and waves, within their maintenance windows.

A patch run that installs nothing (``PatchOptions(install=False)``): the same
rollout, failure threshold, window check, proof of reboot (a new boot_id) and
history as ``patch``.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, kit: Any) -> None:
    reboot = commands.add_parser(
        "reboot",
        help="reboot hosts (canary, waves, maintenance windows), installing nothing",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    kit.add_selection(reboot)
    kit.add_db(reboot)
    kit.add_concurrency(reboot)
    reboot.add_argument(
        "--only-if-needed",
        action="store_true",
        help="reboot only hosts that report a reboot is required",
    )
    reboot.add_argument(
        "--ignore-window",
        action="store_true",
        help="also reboot hosts outside their maintenance window",
    )
    kit.add_rollout(reboot)
    kit.add_confirmation(reboot)
    kit.add_notify(reboot)
    reboot.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    from patchtui.engine.patch import PatchOptions
    from patchtui.headless.patch_command import rollout_from_args, run_patch_job

    options = PatchOptions(
        install=False,  # the engine records a run that installs nothing as a reboot
        reboot="if-needed" if args.only_if_needed else "always",
        **rollout_from_args(args),
        dry_run=args.dry_run,
        ignore_window=args.ignore_window,
    )
    return run_patch_job(args, options, verb="Reboot")
