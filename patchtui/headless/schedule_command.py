"""``patchtui schedule``: generate, verify, then print, write or install the units."""

from __future__ import annotations

import argparse
import getpass
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from patchtui.engine.patch import windows_by_host
from patchtui.engine.schedule import (
    Schedule,
    ScheduleError,
    SchedulePolicy,
    build_schedule,
    parse_at,
)
from patchtui.errors import ConfigError
from patchtui.exit_codes import ExitCode
from patchtui.headless.common import selected_hosts
from patchtui.headless.output import emit_json
from patchtui.headless.schedule_files import (
    enable_timers,
    install_directory,
    verify_units,
    write_files,
)

_SENTINEL = "\0inventory"


def _at(text: str | None, flag: str) -> object:
    if text is None:
        return None
    try:
        return parse_at(text)
    except ScheduleError as error:
        raise ConfigError(f"{flag}: {error}") from None


def check_patch_flags(flags: Sequence[str], args: argparse.Namespace) -> None:
    """The flags after ``--`` through the real ``patch`` parser and option checks, so a
    unit never holds a command that would fail on its first night."""
    from patchtui.cli import build_parser
    from patchtui.headless.matrix_output import check_format
    from patchtui.headless.patch_command import (
        baseline_from_args,
        rollout_from_args,
        selection_from_args,
    )

    parser = build_parser()
    subparsers = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    patch = subparsers.choices["patch"]

    def refuse(message: str) -> NoReturn:
        raise ConfigError(f"patch flags after --: {message}")

    # Its own message, not the parser's exit: the flags are checked, not run.
    patch.error = refuse
    parsed = patch.parse_args(["-i", _SENTINEL, *flags])
    given = {
        "inventory": parsed.inventory != _SENTINEL,
        "limit": parsed.limit is not None,
        "db": parsed.db is not None,
    }
    for name, present in given.items():
        if present:
            refuse(f"give --{name} to 'schedule' itself, not after --")
    for name, flag in (
        ("ask_become_pass", "--ask-become-pass"),
        ("become_password_fd", "--become-password-fd"),
        ("retry", "--retry"),
        ("resume", "--resume"),
    ):
        if getattr(parsed, name, None) not in (None, False):
            refuse(f"{flag} cannot work unattended (no terminal, no descriptor, a fixed run)")
    parsed.db = args.db
    check_format(parsed)
    selection_from_args(parsed)
    rollout_from_args(parsed)
    baseline_from_args(parsed)


def _command(args: argparse.Namespace) -> tuple[str, ...]:
    if args.patchtui:
        path = Path(args.patchtui)
        if not path.is_absolute():
            raise ConfigError(f"--patchtui {args.patchtui}: give an absolute path")
        return (str(path),)
    found = shutil.which("patchtui")
    if found:
        return (str(Path(found).absolute()),)
    return (sys.executable, "-m", "patchtui.cli")


def _inventory_path(text: str) -> str:
    if text.startswith("sshconfig:"):
        return text
    return str(Path(text).resolve())


def build_from_args(args: argparse.Namespace) -> Schedule:
    _, hosts = selected_hosts(args)
    windows = windows_by_host(hosts)  # a malformed window stops here
    check_patch_flags(args.patch_flags, args)
    user_units = bool(args.user)
    policy = SchedulePolicy(
        command=_command(args),
        inventory=_inventory_path(args.inventory),
        limit=args.limit,
        patch_flags=tuple(args.patch_flags),
        db=str(Path(args.db).resolve()) if args.db else None,
        scan_at=None if args.no_scan else _at(args.scan_at, "--scan-at"),  # type: ignore[arg-type]
        patch_at=_at(args.patch_at, "--patch-at"),  # type: ignore[arg-type]
        prefix=_prefix(args.prefix),
        user_units=user_units,
        run_as=None if user_units else (args.run_as or getpass.getuser()),
        on_failure=args.on_failure,
    )
    try:
        return build_schedule(hosts, windows, policy)
    except ScheduleError as error:
        raise ConfigError(str(error)) from None


def _prefix(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,60}", text):
        raise ConfigError(f"--prefix {text!r}: use letters, digits, '_', '.', '-'")
    return text


def run_schedule_command(args: argparse.Namespace) -> int:
    if args.install and args.output:
        raise ConfigError("--install writes into the systemd directory: drop --output")
    if args.user and args.run_as:
        raise ConfigError("--run-as sets User= of system units; user units run as you")
    schedule = build_from_args(args)
    if not schedule.timers:
        raise ConfigError(
            "nothing to schedule: no host has a maintenance window"
            + (" and --no-scan was given" if args.no_scan else "")
            + " (give --patch-at for hosts without one)"
        )
    verification = verify_units(schedule.files, user=args.user)
    if not verification.ok:
        raise ConfigError(f"the generated units do not verify: {verification.message}")
    if not verification.ran:
        sys.stderr.write(f"patchtui: note: {verification.message}\n")
    written: list[Path] = []
    enabled: list[str] = []
    if args.install:
        root = Path(args.root)
        target = install_directory(root, user=args.user)
        units = [unit for unit in schedule.files if unit.kind != "crontab"]
        written = write_files(target, units, force=args.force)
        enabled = enable_timers(root, schedule.timers, user=args.user)
    elif args.output:
        written = write_files(Path(args.output), schedule.files, force=args.force)
    _report(args, schedule, written, enabled, verification.message if verification.ran else None)
    return int(ExitCode.OK)


def _report(
    args: argparse.Namespace,
    schedule: Schedule,
    written: list[Path],
    enabled: list[str],
    verified: str | None,
) -> None:
    paths = {path.name: str(path) for path in written}
    if args.json:
        for group in schedule.groups:
            emit_json(
                {
                    "type": "window",
                    "window": group.description,
                    "on_calendar": list(group.calendars),
                    "hosts": list(group.hosts),
                }
            )
        for unit in schedule.files:
            emit_json(
                {
                    "type": "file",
                    "name": unit.name,
                    "kind": unit.kind,
                    "path": paths.get(unit.name),
                    "text": unit.text,
                }
            )
        emit_json(
            {
                "type": "summary",
                "timers": list(schedule.timers),
                "unscheduled": list(schedule.unscheduled),
                "written": [str(path) for path in written],
                "enabled": enabled,
                "verified": verified is not None,
            }
        )
        return
    if not written:
        for unit in schedule.files:
            print(f"# ==> {unit.name} <==")
            print(unit.text)
    for group in schedule.groups:
        print(
            f"{group.description}: {len(group.hosts)} hosts, OnCalendar="
            + " | ".join(group.calendars)
        )
    for path in written:
        print(f"wrote {path}")
    for command in enabled:
        print(f"ran {command}")
    if args.install and not enabled:
        # systemctl cannot enable user units under another root: say what is left to do.
        timers = " ".join(schedule.timers)
        print(
            "not enabled: run systemctl --user daemon-reload && "
            f"systemctl --user enable --now {timers}"
        )
    if verified:
        print(verified)
    if schedule.unscheduled:
        names = ", ".join(schedule.unscheduled[:6])
        more = f" (+{len(schedule.unscheduled) - 6})" if len(schedule.unscheduled) > 6 else ""
        print(
            f"not scheduled: {len(schedule.unscheduled)} hosts have no maintenance window "
            f"({names}{more}); give --patch-at to patch them at a fixed time"
        )
    if written and not args.install:
        print("install: see README 'Scheduled patching' (or run again with --install)")
