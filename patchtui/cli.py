"""patchtui's command line: the headless commands, and the console when no command is given.

Every user error ends here as one line on stderr and a documented exit code
(see ``patchtui.exit_codes``); tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from patchtui import __version__
from patchtui.errors import PatchtuiError
from patchtui.exit_codes import ExitCode, describe
from patchtui.headless.alerts import add_notify_flags
from patchtui.headless.common import DEFAULT_CONCURRENCY
from patchtui.headless.gate_args import add_blue_green_flags, add_gate_flags
from patchtui.textsafe import one_line

Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a wrong flag is one line and exit 2, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            int(ExitCode.BAD_INPUT),
            f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n",
        )


def _exit_codes_epilog() -> str:
    return "exit codes:\n" + "\n".join(
        f"  {code:<4} {meaning}" for code, _name, meaning in describe()
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _host_count(text: str) -> int:
    """A number of hosts: 0 up to the most an inventory may hold."""
    from patchtui.inventory.model import MAX_HOSTS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_HOSTS:
        raise argparse.ArgumentTypeError(f"must be 0..{MAX_HOSTS}, got {text.strip()}")
    return value


def _file_descriptor(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a file descriptor number, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a file descriptor is 0 or more, got {value}")
    return value


def _add_selection(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "-i",
        "--inventory",
        required=required,
        metavar="FILE",
        help="inventory: patchtui YAML, Ansible INI/YAML/dynamic script, or sshconfig:[PATH]",
    )
    parser.add_argument(
        "-l",
        "--limit",
        metavar="PATTERN",
        help="hosts to work on: names, globs, groups, label=value, '&' intersect, '!' exclude",
    )


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="TinyDB file (default: XDG data dir)")


def _add_concurrency(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--concurrency",
        type=_positive_int,
        default=None,  # filled from config.toml, else DEFAULT_CONCURRENCY, in main()
        metavar="N",
        help=f"hosts worked on at once (default: config.toml, else {DEFAULT_CONCURRENCY})",
    )


def build_parser() -> argparse.ArgumentParser:
    epilog = _exit_codes_epilog()
    formatter = argparse.RawDescriptionHelpFormatter
    parser = OneLineParser(
        prog="patchtui",
        description="Patch fleets of Linux hosts over SSH. Without a command, opens the console.",
        epilog=epilog,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"patchtui {__version__}")
    _add_selection(parser, required=False)
    _add_db(parser)
    _add_concurrency(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    scan = commands.add_parser(
        "scan",
        help="scan hosts: facts, pending updates, reboot required",
        epilog=epilog,
        formatter_class=formatter,
    )
    _add_selection(scan)
    _add_db(scan)
    _add_concurrency(scan)
    scan.add_argument("--json", action="store_true", help="one JSON object per line")
    scan.add_argument(
        "--no-refresh", action="store_true", help="do not refresh package metadata first"
    )
    add_notify_flags(scan)
    scan.set_defaults(handler=_scan)

    patch = commands.add_parser(
        "patch",
        help="install updates with canary, waves, failure threshold and reboots",
        epilog=epilog,
        formatter_class=formatter,
    )
    _add_selection(patch)
    _add_db(patch)
    _add_concurrency(patch)
    what = patch.add_argument_group("what to install")
    what.add_argument("--security-only", action="store_true", help="only security updates")
    what.add_argument(
        "--min-severity",
        type=str.lower,
        choices=("critical", "important", "high", "moderate", "medium", "low"),
        help="only updates at least this severe (high = important), judged by the package "
        "manager and the synced OSV advisories; unknown severity is left out (default: "
        "config min_severity)",
    )
    what.add_argument(
        "--packages", action="append", metavar="A,B", help="only these packages (globs allowed)"
    )
    what.add_argument(
        "--exclude", action="append", metavar="GLOB", help="never install these (repeatable)"
    )
    what.add_argument(
        "--dist-upgrade",
        action="store_true",
        help="apt: allow new dependencies and removals (dist-upgrade instead of upgrade)",
    )
    _add_rollout(patch)
    _add_run_controls(patch)
    patch.add_argument("--pre", metavar="CMD", help="run on each host first; failure skips it")
    patch.add_argument("--post", metavar="CMD", help="run on each host after patching")
    add_gate_flags(patch)
    add_blue_green_flags(patch)
    again = patch.add_argument_group("again").add_mutually_exclusive_group()
    again.add_argument(
        "--retry",
        metavar="RUN_ID",
        help="only the hosts RUN_ID did not finish ok (failed, unreachable, interrupted, skipped)",
    )
    again.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="only the hosts RUN_ID never finished (interrupted, or skipped: halted, "
        "cancelled, outside their window)",
    )
    add_notify_flags(patch)
    patch.set_defaults(handler=_patch)

    rollback = commands.add_parser(
        "rollback",
        help="restore the package versions a patch run replaced",
        epilog=epilog,
        formatter_class=formatter,
    )
    _add_selection(rollback)
    _add_db(rollback)
    _add_concurrency(rollback)
    rollback.add_argument("--run", required=True, metavar="RUN_ID", help="the patch run to undo")
    _add_run_controls(rollback)
    add_notify_flags(rollback)
    rollback.set_defaults(handler=_rollback)

    history = commands.add_parser(
        "history", help="list runs, show one run's per-host results and transcript, prune"
    )
    history.add_argument("action", nargs="?", choices=("prune",), help="prune old runs")
    _add_db(history)
    history.add_argument("--host", metavar="NAME", help="only runs that included this host")
    history.add_argument("--run", metavar="RUN_ID", help="show one run per host")
    history.add_argument("--last", type=_positive_int, metavar="N", help="only the newest N runs")
    history.add_argument("--older-than", metavar="AGE", help="with prune: e.g. 90d, 12h, 2w")
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    history.set_defaults(handler=_history)

    compliance = commands.add_parser(
        "compliance",
        help="evaluate hosts against a compliance policy; report for auditors",
        epilog=epilog,
        formatter_class=formatter,
    )
    _add_selection(compliance)
    _add_db(compliance)
    compliance.add_argument("--policy", metavar="FILE", help="policy YAML (default: SSM-strict)")
    compliance.add_argument(
        "--format",
        choices=("table", "json", "csv", "markdown", "html", "prometheus"),
        default="table",
    )
    compliance.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    compliance.add_argument("--output", metavar="FILE", help="write the report here (atomically)")
    add_notify_flags(compliance)
    compliance.set_defaults(handler=_compliance)

    lab = commands.add_parser(
        "lab",
        help="serve a fleet of simulated hosts on loopback (for demos, tests, benchmarks)",
        formatter_class=formatter,
    )
    lab.add_argument("--hosts", type=_positive_int, default=40, metavar="N")
    lab.add_argument("--seed", type=int, default=1)
    lab.add_argument("--faults", choices=("none", "some"), default="some")
    lab.add_argument("--write-inventory", required=True, metavar="PATH", type=Path)
    lab.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FAULT=HOST[,HOST]",
        help="give these hosts a fault (repeatable), e.g. unhealthy-after-patch=lab-deb-0001",
    )
    lab.add_argument(
        "--slow-delay",
        type=float,
        metavar="S",
        help="seconds each command of a host with the 'slow' fault takes (default 1.5)",
    )
    lab.set_defaults(handler=_lab)

    demo = commands.add_parser(
        "demo", help="open the console on a built-in simulated fleet (no hosts needed)"
    )
    demo.add_argument("--hosts", type=_positive_int, default=40, metavar="N")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--faults", choices=("none", "some"), default="some")
    _add_db(demo)
    _add_concurrency(demo)
    demo.set_defaults(handler=_demo)

    db = commands.add_parser("db", help="check or repair the database file")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, help_text in (
        ("check", "verify the database loads and is consistent"),
        ("repair", "recover what can be recovered (keeps a backup)"),
    ):
        action = db_commands.add_parser(name, help=help_text)
        _add_db(action)
        action.add_argument("--json", action="store_true", help="one JSON object per line")
        action.set_defaults(handler=_db)
    for register in _command_plugins():
        register(commands, ParserKit(epilog=epilog, formatter=formatter))
    return parser


@dataclass(frozen=True)
class ParserKit:
    """What a command module needs to declare its flags the way the built-ins do."""

    epilog: str
    formatter: type[argparse.HelpFormatter]

    def add_selection(self, parser: argparse.ArgumentParser, *, required: bool = True) -> None:
        _add_selection(parser, required=required)

    def add_db(self, parser: argparse.ArgumentParser) -> None:
        _add_db(parser)

    def add_concurrency(self, parser: argparse.ArgumentParser) -> None:
        _add_concurrency(parser)

    def add_run_controls(self, parser: argparse.ArgumentParser) -> None:
        _add_run_controls(parser)

    def add_rollout(self, parser: argparse.ArgumentParser) -> None:
        _add_rollout(parser)

    def add_confirmation(self, parser: argparse.ArgumentParser) -> None:
        _add_confirmation(parser)

    def add_notify(self, parser: argparse.ArgumentParser) -> None:
        add_notify_flags(parser)

    def positive_int(self, text: str) -> int:
        return _positive_int(text)


def _command_plugins() -> list[Callable[[Any, ParserKit], None]]:
    """``register`` of every ``patchtui/headless/cmd_*.py`` module, in name order.

    Each such module declares one command's flags and imports its heavy parts
    only inside the handler, so ``patchtui --help`` stays fast.
    """
    import patchtui.headless as headless

    found = []
    for module in sorted(pkgutil.iter_modules(headless.__path__), key=lambda m: m.name):
        if module.name.startswith("cmd_"):
            loaded = importlib.import_module(f"patchtui.headless.{module.name}")
            found.append(loaded.register)
    return found


def _add_rollout(parser: argparse.ArgumentParser) -> None:
    rollout = parser.add_argument_group("rollout")
    rollout.add_argument(
        "--canary", type=_host_count, default=0, metavar="N", help="canary hosts first"
    )
    rollout.add_argument("--batch", metavar="N|N%", help="hosts per wave after the canaries")
    rollout.add_argument(
        "--max-failures",
        metavar="N|N%",
        help="failures allowed before the run halts (default 0: the first failure halts)",
    )
    rollout.add_argument(
        "--canary-hosts",
        metavar="PATTERN",
        help="these hosts are the canaries (a --limit pattern); default: --canary N hosts "
        "whose last scan was ok, 'canary: true' and env=staging first",
    )


def _add_run_controls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reboot",
        choices=("if-needed", "never", "always"),
        default="if-needed",
        help="reboot policy (default if-needed); a reboot is proven by a new boot_id",
    )
    _add_confirmation(parser)


def _add_confirmation(parser: argparse.ArgumentParser) -> None:
    """Flags of every command that changes hosts: dry-run, confirmation, output, sudo."""
    parser.add_argument("--dry-run", action="store_true", help="show what would change")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "-K", "--ask-become-pass", action="store_true", help="ask once for the sudo password"
    )
    parser.add_argument(
        "--become-password-fd",
        type=_file_descriptor,
        metavar="FD",
        help="read the sudo password from this file descriptor (never from argv)",
    )


def _patch(args: argparse.Namespace) -> int:
    from patchtui.headless.patch_command import run_patch_command

    return run_patch_command(args)


def _rollback(args: argparse.Namespace) -> int:
    from patchtui.headless.patch_command import run_rollback_command

    return run_rollback_command(args)


def _history(args: argparse.Namespace) -> int:
    from patchtui.headless.history_command import run_history_command

    return run_history_command(args)


def _compliance(args: argparse.Namespace) -> int:
    from patchtui.headless.compliance_command import run_compliance_command

    return run_compliance_command(args)


def _scan(args: argparse.Namespace) -> int:
    from patchtui.headless.scan_command import run_scan_command

    return run_scan_command(args)


def _lab(args: argparse.Namespace) -> int:
    from patchtui.lab.runner import run_lab

    # Only when given: the lab module keeps the default (importing it here costs start-up).
    slow = {} if args.slow_delay is None else {"slow_delay": args.slow_delay}
    return run_lab(
        hosts=args.hosts,
        seed=args.seed,
        faults=args.faults,
        write_inventory=args.write_inventory,
        fault_hosts=args.fault,
        **slow,
    )


def _demo(args: argparse.Namespace) -> int:
    from patchtui.tui.launch import run_demo

    return run_demo(args)


def _console(args: argparse.Namespace) -> int:
    from patchtui.tui.launch import run_console

    return run_console(args)


def _db(args: argparse.Namespace) -> int:
    from patchtui.headless.db_command import run_db_command

    return run_db_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    from patchtui.headless.pipe import guarded_stdout

    with guarded_stdout() as stdout:
        code = _main(argv)
    # A reader that went away (``| head -1``) is not an error of ours, nor silence to hide.
    return int(ExitCode.BROKEN_PIPE) if stdout.broken else code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    try:
        if hasattr(args, "concurrency") and args.concurrency is None:
            # Read here, not while building the parser: --help and completion
            # must work even when config.toml is broken.
            from patchtui.config import load_config

            args.concurrency = load_config().concurrency or DEFAULT_CONCURRENCY
        if handler is None:
            if not args.inventory:
                parser.error("give -i INVENTORY to open the console, or try 'patchtui demo'")
            return _console(args)
        return handler(args)
    except PatchtuiError as error:
        sys.stderr.write(f"patchtui: error: {one_line(str(error))}\n")
        return int(error.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("patchtui: interrupted\n")
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
