"""``patchtui doctor``: a table of what to fix on each host before a patch night.

Per host: connection, host key, passwordless sudo, package manager and clock
(see ``patchtui.engine.doctor``). Exit 0 when nothing needs fixing, 1
otherwise; ``--json`` gives one ``host_check`` line per host and a summary.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from patchtui.exit_codes import ExitCode

if TYPE_CHECKING:
    from patchtui.engine.doctor import HostCheck

HEADERS = ("HOST", "CONNECT", "HOST KEY", "SUDO", "PKG MGR", "CLOCK", "FIX")


def register(commands: Any, kit: Any) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check hosts before a patch night: connect, host key, sudo, package manager, clock",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    kit.add_selection(parser)
    kit.add_concurrency(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run_doctor_command(args)


def check_to_json(check: HostCheck) -> dict[str, object]:
    return {
        "type": "host_check",
        "host": check.host,
        "ok": check.ok,
        "connect": check.connect,
        "host_key": check.host_key,
        "sudo": check.sudo,
        "package_manager": check.package_manager,
        "clock_skew": None if check.clock_skew is None else round(check.clock_skew, 1),
        "problems": list(check.problems),
        "fix": check.fix,
        "error": check.error,
    }


def summary_json(checks: list[HostCheck], selected: int, interrupted: bool) -> dict[str, object]:
    problems = Counter(problem for check in checks for problem in check.problems)
    return {
        "type": "summary",
        "operation": "doctor",
        "outcome": "interrupted" if interrupted else "ok" if _all_ok(checks, selected) else "fix",
        "hosts": selected,
        "checked": len(checks),
        "ok": sum(1 for check in checks if check.ok),
        "to_fix": sum(1 for check in checks if not check.ok),
        "problems": dict(sorted(problems.items())),
    }


def _all_ok(checks: list[HostCheck], selected: int) -> bool:
    return len(checks) == selected and all(check.ok for check in checks)


def render_report(checks: list[HostCheck], selected: int) -> str:
    from patchtui.headless.output import render_table
    from patchtui.textsafe import strip_control

    rows = [
        [c.host, c.connect, c.host_key, c.sudo, c.package_manager, c.clock, c.fix or "-"]
        for c in checks
    ]
    lines = [render_table(HEADERS, rows)]
    # The table's FIX is one line; the full errors name files and lines to edit.
    errors = [check for check in checks if check.error]
    if errors:
        lines.append("")
        lines.extend(
            f"{strip_control(check.host)}: {strip_control(check.error or '')}" for check in errors
        )
    to_fix = sum(1 for check in checks if not check.ok)
    lines.append("")
    lines.append(
        f"{selected} hosts: {len(checks) - to_fix} ready, {to_fix} to fix"
        + (f", {selected - len(checks)} not checked" if len(checks) < selected else "")
    )
    return "\n".join(lines)


def run_doctor_command(args: argparse.Namespace) -> int:
    from patchtui.engine.doctor import DoctorJob
    from patchtui.headless.common import make_connector, run_interruptible, selected_hosts
    from patchtui.headless.output import emit_json

    _, hosts = selected_hosts(args)
    connector = make_connector(args)
    progress = (not args.json) and sys.stderr.isatty()
    done = 0

    def on_check(check: HostCheck) -> None:
        nonlocal done
        done += 1
        if args.json:
            emit_json(check_to_json(check))
        elif progress:
            sys.stderr.write(f"\rchecked {done}/{len(hosts)}")
            sys.stderr.flush()

    job = DoctorJob(hosts, connector=connector, on_check=on_check)

    checks = run_interruptible(job.run, job.cancel, connector=connector)
    if args.json:
        emit_json(summary_json(checks, len(hosts), job.cancelled))
    else:
        if progress:
            sys.stderr.write("\r\x1b[K")
        print(render_report(sorted(checks, key=lambda check: check.host), len(hosts)))
    if job.cancelled:
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.OK if _all_ok(checks, len(hosts)) else ExitCode.HOST_FAILURES)
