"""``patchtui run -- CMD``: one shell command on every selected host, output streamed.

Like ``pssh -i`` or ``ansible -m raw``: the words after ``--`` form one
command line for each host's login shell; every output line is printed as
``host | line`` the moment it arrives (stderr lines on stderr), then one
line per host that did not exit 0 and a summary. Exit 0 only when every
host exited 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, TYPE_CHECKING, Any

from patchtui.exit_codes import ExitCode

if TYPE_CHECKING:
    from patchtui.engine.adhoc import AdhocJob
    from patchtui.engine.events import Event, RunFinished, RunSummary

MAX_PREFIX_WIDTH = 32
"""Host names are padded to line up, but one very long name must not push every line right."""


def register(commands: Any, kit: Any) -> None:
    parser = commands.add_parser(
        "run",
        usage="patchtui run -i FILE [-l PATTERN] [-c N] [--become] [--timeout S] [--json] "
        "[--db PATH] [--notify URL|mailto:ADDR] -- COMMAND [ARG ...]",
        help="run one shell command on every selected host, output streamed (like pssh -i)",
        description=(
            "Run COMMAND through each selected host's login shell; the words after -- form "
            "one command line. Stored in history as operation 'run'."
        ),
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    kit.add_selection(parser)
    kit.add_db(parser)
    kit.add_concurrency(parser)
    parser.add_argument(
        "--become",
        action="store_true",
        help="run it privileged, through the inventory's become (sudo -n)",
    )
    parser.add_argument(
        "--timeout",
        type=kit.positive_int,
        metavar="SECONDS",
        help="stop the command on a host after this long (default: no limit)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    kit.add_notify(parser)
    parser.add_argument(
        "command_words",
        nargs="+",
        metavar="COMMAND",
        help="after --: the command line to run (its words are joined with spaces)",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run_command(args)


class RunPrinter:
    """Streams host output as ``host | line`` (or JSON lines) and remembers how hosts ended."""

    def __init__(
        self,
        *,
        as_json: bool,
        host_names: list[str],
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        from patchtui.textsafe import strip_control

        # Names are printed, so they are made safe like output: an ssh config
        # alias can carry escape sequences (ESC ] 0 ; title BEL).
        self.names = {name: strip_control(name) for name in host_names}
        self.width = min(
            MAX_PREFIX_WIDTH, max((len(name) for name in self.names.values()), default=0)
        )
        self.job: AdhocJob | None = None
        self.finished: RunFinished | None = None
        self.problems: list[str] = []

    def prefix(self, host: str) -> str:
        from patchtui.textsafe import strip_control

        name = self.names.get(host)
        return f"{(name if name is not None else strip_control(host)).ljust(self.width)} | "

    def __call__(self, event: Event) -> None:
        from patchtui.engine.events import HostFinished, HostOutput, RunFinished, RunStarted
        from patchtui.headless.output import emit_json, event_to_json
        from patchtui.textsafe import strip_control

        if isinstance(event, HostOutput):
            if event.stream == "cmd":
                return  # the same command line for every host; run_started carries it
            if self.as_json:
                emit_json(
                    {
                        "type": "output",
                        "host": event.host,
                        "stream": event.stream,
                        "line": event.line,
                    },
                    self.out,
                )
                return
            target = self.err if event.stream == "stderr" else self.out
            target.write(self.prefix(event.host) + strip_control(event.line) + "\n")
            target.flush()
            return
        if isinstance(event, RunFinished):
            self.finished = event
        exit_status = None
        if isinstance(event, HostFinished) and self.job is not None:
            outcome = self.job.outcomes.get(event.host)
            exit_status = outcome.exit_status if outcome is not None else None
            if event.error:
                self.problems.append(
                    self.prefix(event.host)
                    + f"[{event.error_kind or event.state.value}] "
                    + strip_control(event.error)
                )
        if not self.as_json:
            return
        line = event_to_json(event, {})
        if line is None:
            return
        if isinstance(event, RunStarted):
            line["command"] = event.options.get("command")
        if isinstance(event, HostFinished):
            line["exit_status"] = exit_status
        emit_json(line, self.out)

    def print_report(self) -> None:
        if self.as_json:
            return
        for problem in self.problems:
            self.out.write(problem + "\n")
        if self.finished is not None:
            self.out.write(summary_line(self.finished.summary, self.finished.outcome) + "\n")
        self.out.flush()


def summary_line(summary: RunSummary, outcome: str) -> str:
    from patchtui.engine.outcome import INTERRUPTED, skipped_text

    return (
        f"{summary.hosts} hosts: {summary.ok} exited 0, {summary.failed} failed, "
        f"{summary.unreachable} unreachable"
        + (f", {summary.interrupted} interrupted" if summary.interrupted else "")
        + (f", {skipped_text(summary)}" if summary.skipped else "")
        + f" | {summary.duration:.1f}s"
        + (" | INTERRUPTED" if outcome == INTERRUPTED else "")
    )


def run_command(args: argparse.Namespace) -> int:
    from patchtui.engine.adhoc import AdhocJob
    from patchtui.errors import ConfigError
    from patchtui.headless import alerts
    from patchtui.headless.common import (
        make_connector,
        open_store,
        run_interruptible,
        selected_hosts,
    )

    # ' '.join, not shlex.join: like pssh and ansible -m raw, the words are one
    # shell command line, so `-- 'uptime; df -h'` and `-- uptime \; df -h` both work.
    command = " ".join(args.command_words)
    if not command.strip():
        raise ConfigError("give the command to run after --, e.g. patchtui run -i INV -- uptime")
    _, hosts = selected_hosts(args)
    notifier = alerts.notifier_for(args)
    store = open_store(args)
    try:
        printer = RunPrinter(as_json=args.json, host_names=[host.name for host in hosts])
        connector = make_connector(args)
        job = AdhocJob(
            hosts,
            command=command,
            connector=connector,
            emit=notifier.sink(printer),
            store=store,
            privileged=args.become,
            timeout=args.timeout,
            options={"limit": args.limit, "concurrency": args.concurrency},
        )
        printer.job = job

        summary = run_interruptible(job.run, job.cancel, connector=connector)
        deliveries = alerts.finish(notifier, store, job.run_id, warn_now=False)
    finally:
        store.close()
    printer.print_report()
    alerts.warn_failures(deliveries)
    if job.cancelled:
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.OK if summary.ok == summary.hosts else ExitCode.HOST_FAILURES)
