"""``patchtui patch`` and ``patchtui rollback``: safe rollouts from cron, CI or a shell."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from patchtui.config import load_config
from patchtui.drivers.base import Selection, check_package_name
from patchtui.engine.bluegreen import PhasedPlan, phase_lines
from patchtui.engine.events import (
    Event,
    HealthProbed,
    HostFinished,
    HostScanned,
    HostWaitingForWindow,
    PhaseStarted,
    RunFinished,
    RunHalted,
    RunSummary,
    SwitchRan,
    WaveStarted,
)
from patchtui.engine.outcome import (
    INTERRUPTED,
    OK_RESULTS,
    describe_outcome,
    names_to_repeat,
    skipped_text,
)
from patchtui.engine.patch import PatchJob, PatchOptions, closed_windows, windows_by_host
from patchtui.engine.rollback import RollbackJob, changes_from_results
from patchtui.engine.rollout import (
    Amount,
    RolloutPlan,
    canary_fitness,
    prod_count,
    typed_confirmation,
)
from patchtui.engine.windows import window_notice
from patchtui.errors import ConfigError, PatchtuiError
from patchtui.exit_codes import ExitCode
from patchtui.headless import alerts
from patchtui.headless.alerts import notifier_for
from patchtui.headless.common import db_path, open_store, run_interruptible, selected_hosts
from patchtui.headless.gate_args import blue_green_from_args, gates_from_args
from patchtui.headless.output import emit_json, event_to_json, render_table
from patchtui.inventory.model import Host, Inventory
from patchtui.inventory.patterns import select_hosts
from patchtui.textsafe import strip_control

if TYPE_CHECKING:
    from collections.abc import Sequence

    from patchtui.advisories.osv import AdvisoryIndex
    from patchtui.baselines.model import Baseline
    from patchtui.store.db import Store
    from patchtui.transport.ssh import SshConnector


class PatchPrinter:
    """Events -> JSON lines, or one line per finished host and a final table."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.scans: dict[str, HostScanned] = {}
        self.finished: dict[str, HostFinished] = {}
        self.finish: RunFinished | None = None
        self.wave = ""

    def collect(self, event: Event) -> None:
        """Keep what the final report needs: scans, finished hosts, the run's end."""
        if isinstance(event, HostScanned):
            self.scans[event.host] = event
        elif isinstance(event, HostFinished):
            self.finished[event.host] = event
        elif isinstance(event, RunFinished):
            self.finish = event

    def __call__(self, event: Event) -> None:
        self.collect(event)
        if self.as_json:
            line = event_to_json(event, self.scans)
            if line is not None:
                emit_json(line)
            return
        if isinstance(event, WaveStarted):
            self.wave = event.label
            print(f"== {event.label}: {len(event.hosts)} hosts", flush=True)
        elif isinstance(event, HostWaitingForWindow):
            host = strip_control(event.host)
            print(
                f"   {host}: waits for its maintenance window, opens {event.opens_text}", flush=True
            )
        elif isinstance(event, HostFinished):
            print(f"   {strip_control(event.host)}: {describe_result(event)}", flush=True)
        elif isinstance(event, RunHalted):
            print(f"!! halted: {event.reason}; {len(event.skipped)} hosts skipped", flush=True)
        elif isinstance(event, PhaseStarted):
            print(
                f"=== phase {event.index + 1}: {event.label}: {len(event.hosts)} hosts", flush=True
            )
        elif isinstance(event, SwitchRan):
            for output in event.output:
                print(strip_control(f"   switch| {output}"), flush=True)
            if event.exit_status is None:
                print(
                    strip_control(f"!! switch `{event.command}` not run: {event.reason}"),
                    flush=True,
                )
            else:
                verdict = "ok" if event.exit_status == 0 else event.reason
                print(strip_control(f"=== switch `{event.command}`: {verdict}"), flush=True)
        elif isinstance(event, HealthProbed):
            verdict = "healthy" if event.healthy else f"unhealthy ({event.detail})"
            print(
                strip_control(f"   {event.host}: health attempt {event.attempt}: {verdict}"),
                flush=True,
            )

    def print_report(self) -> None:
        if self.as_json:
            return
        rows: list[list[object]] = []
        for name in sorted(self.finished):
            event = self.finished[name]
            names = [change.name for change in event.changes]
            changes = f"{len(names)}: " + ", ".join(names[:3]) if names else ""
            if len(names) > 3:
                changes += ", …"
            rows.append([name, event.result or event.state.value, changes, _error(event)])
        print(render_table(["HOST", "RESULT", "CHANGES", "NOTE"], rows))
        if self.finish is not None:
            print(patch_summary_line(self.finish))


def _error(event: HostFinished) -> str:
    if not event.error:
        return ""
    return f"{event.error_kind}: {event.error}" if event.error_kind else event.error


def describe_result(event: HostFinished) -> str:
    text = event.result or event.state.value
    if event.changes:
        verb = "would change" if event.result == "planned" else "changed"
        text += f", {verb} {len(event.changes)} packages"
    if event.changes_unknown:
        text += ", changes unknown (rollback restores the recorded versions)"
    if event.rebooted:
        text += ", rebooted"
    if event.error:
        text += f" ({_error(event)})"
    return strip_control(text)


def patch_summary_line(finish: RunFinished) -> str:
    summary = finish.summary
    results = ", ".join(
        f"{count} {name}" for name, count in sorted(summary.results.items()) if name != "skipped"
    )
    parts = [results] if results else []
    if skipped := skipped_text(summary):
        parts.append(skipped)
    line = (
        f"{finish.operation} {describe_outcome(finish.outcome)}: "
        f"{summary.hosts} host{'' if summary.hosts == 1 else 's'} "
        f"in {summary.waves} wave{'' if summary.waves == 1 else 's'}: " + ", ".join(parts)
    )
    if summary.halted:
        line += f" | HALTED: {summary.halt_reason}"
    if summary.dry_run:
        line += " | DRY RUN: nothing was changed"
    return line + f" | {summary.duration:.1f}s"


def run_exit_code(finish: RunFinished | None, summary: RunSummary) -> ExitCode:
    if finish is None or finish.outcome == INTERRUPTED:
        return ExitCode.INTERRUPTED
    if summary.halted:
        return ExitCode.HALTED
    ok = sum(count for result, count in summary.results.items() if result in OK_RESULTS)
    return ExitCode.OK if ok == summary.hosts else ExitCode.HOST_FAILURES


def _split_list(values: list[str] | None) -> tuple[str, ...]:
    items: list[str] = []
    for value in values or []:
        items.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(items)


def selection_from_args(args: argparse.Namespace) -> Selection:
    packages = _split_list(args.packages)
    for name in packages:
        # Globs are allowed in --packages; anything else must look like a package name.
        try:
            check_package_name(name.replace("*", "x").replace("?", "x"))
        except ValueError as error:
            raise ConfigError(f"--packages: {error}") from None
    return Selection(
        security_only=args.security_only,
        packages=packages,
        exclude=_split_list(args.exclude),
        dist_upgrade=args.dist_upgrade,
        min_severity=min_severity_from_args(args),
    )


def min_severity_from_args(args: argparse.Namespace) -> str | None:
    """--min-severity, else config.toml's [defaults] min_severity, in patchtui's scale."""
    from patchtui.advisories.osv import severity_choice
    from patchtui.config import load_config

    word = getattr(args, "min_severity", None) or load_config().min_severity
    return severity_choice(word) if word else None


def advisories_for(selection: Selection, args: argparse.Namespace) -> AdvisoryIndex | None:
    """The synced OSV advisories when a severity decides what to install (else not loaded)."""
    if selection.min_severity is None:
        return None
    from patchtui.advisories.store import advisories_path_for, freshness, load
    from patchtui.headless.cmd_advisories import max_age_days

    data = load(advisories_path_for(db_path(args)))
    note = freshness(data, time.time(), max_age_days(args)).message()
    if note:
        # Said before anything is installed: a stale or missing severity source means
        # updates it would have classified are left out as "unknown".
        sys.stderr.write(f"warning: {note}\n")
    return data.index() if data.records else None


def baseline_from_args(args: argparse.Namespace) -> Baseline | None:
    """The --baseline to promote, refused with flags that would contradict it."""
    name = getattr(args, "baseline", None)
    if not name:
        return None
    if args.security_only or args.dist_upgrade or getattr(args, "min_severity", None):
        flag = (
            "--security-only"
            if args.security_only
            else "--dist-upgrade"
            if args.dist_upgrade
            else "--min-severity"
        )
        raise ConfigError(
            f"--baseline installs exactly the baseline's versions; {flag} does not combine with it"
            " (give rules when creating the baseline instead)"
        )
    from patchtui.baselines.store import BaselineBook

    return BaselineBook(db_path(args)).require(name)


def rollout_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """canary, batch and max_failures for PatchOptions, from the rollout flags."""
    return {
        "canary": args.canary,
        "batch": Amount.parse(args.batch, flag="--batch") if args.batch else None,
        "max_failures": (
            Amount.parse(args.max_failures, flag="--max-failures") if args.max_failures else None
        ),
    }


def canaries_from_args(
    args: argparse.Namespace, inventory: Inventory, hosts: Sequence[Host]
) -> tuple[str, ...]:
    """The hosts --canary-hosts names, among those selected; none named is bad input."""
    pattern = getattr(args, "canary_hosts", None)
    if pattern is None:
        return ()
    if not pattern.strip():
        raise ConfigError("--canary-hosts: empty pattern (name the canary hosts)")
    selected = {host.name for host in hosts}
    try:
        matched = select_hosts(inventory, pattern)
    except PatchtuiError as error:
        raise ConfigError(f"--canary-hosts: {error}") from None
    named = tuple(host.name for host in matched if host.name in selected)
    if not named:
        raise ConfigError(f"--canary-hosts {pattern!r}: none of the selected hosts match")
    return named


def fitness_from_store(store: Store, hosts: Sequence[Host]) -> dict[str, str]:
    """Canary fitness from what the store remembers of each host's last run."""
    names = {host.name for host in hosts}
    return canary_fitness(
        {
            str(doc.get("name")): doc.get("last_state")
            for doc in store.hosts()
            if doc.get("name") in names
        }
    )


def hosts_again(store: Store, run_id: str, hosts: Sequence[Host], *, mode: str) -> list[Host]:
    """The selected hosts that ``run_id`` did not finish ok (retry), or never finished
    (resume: interrupted, or skipped because the run stopped or the window was shut)."""
    run = store.run(run_id)
    if run is None:
        raise ConfigError(f"--{mode}: no run {run_id!r} in the database (see 'patchtui history')")
    if run.get("operation") not in {"patch", "reboot"}:
        raise ConfigError(f"--{mode}: run {run_id} is a {run.get('operation')}, not a patch run")
    again = names_to_repeat(store.host_results(run_id), mode=mode)
    chosen = [host for host in hosts if host.name in again]
    if not chosen:
        what = "did not finish ok" if mode == "retry" else "was left unfinished"
        raise ConfigError(f"--{mode}: no selected host {what} in run {run_id}; nothing to do")
    return chosen


def options_from_args(args: argparse.Namespace) -> PatchOptions:
    if getattr(args, "wait_for_window", False) and getattr(args, "ignore_window", False):
        raise ConfigError("--wait-for-window and --ignore-window contradict each other")
    selection = selection_from_args(args)
    baseline = baseline_from_args(args)
    return PatchOptions(
        baseline=baseline,
        ignore_window=bool(getattr(args, "ignore_window", False)),
        wait_for_window=bool(getattr(args, "wait_for_window", False)),
        selection=selection,
        advisories=None if baseline is not None else advisories_for(selection, args),
        **rollout_from_args(args),
        reboot=args.reboot,
        pre=args.pre,
        post=args.post,
        dry_run=args.dry_run,
        **gates_from_args(args),
    )


def become_password(args: argparse.Namespace) -> str | None:
    """Asked once, kept in memory only: never in argv, environment, DB or logs."""
    if args.become_password_fd is not None:
        fd = args.become_password_fd
        try:
            with os.fdopen(fd, "r", closefd=True) as source:
                # Bounded: a password is a line, not whatever the descriptor streams.
                return source.readline(4096).rstrip("\n")
        except OSError as error:
            raise ConfigError(
                f"--become-password-fd {fd}: cannot read the password: {error.strerror or error}"
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(f"--become-password-fd {fd}: the password is not UTF-8") from None
    if args.ask_become_pass:
        if not sys.stdin.isatty():
            raise ConfigError("--ask-become-pass needs a terminal; use --become-password-fd N")
        return getpass.getpass("BECOME password: ")
    return None


def confirm(
    args: argparse.Namespace,
    hosts: list[Host],
    verb: str,
    *,
    plan: RolloutPlan | None = None,
    options: PatchOptions | None = None,
) -> None:
    if args.yes or args.dry_run:
        return
    prod = prod_count(hosts)
    if options is not None:
        # As the console's confirmation says it: who is outside its window, and whether
        # those hosts are skipped, waited for or patched anyway.
        for line in window_notice(
            closed_windows(hosts, options.clock()),
            len(hosts),
            ignore=options.ignore_window,
            wait=options.wait_for_window,
            cancel_with="Ctrl+C",
        ):
            sys.stderr.write(line + "\n")
    if plan is not None and plan.canaries:
        sys.stderr.write(f"canary hosts: {', '.join(plan.canaries)} ({plan.canary_note})\n")
    if plan is not None and isinstance(plan, PhasedPlan):
        for line in phase_lines(plan):
            sys.stderr.write(line + "\n")
    if not sys.stdin.isatty():
        raise ConfigError(f"refusing to {verb.lower()} without --yes: no terminal to confirm on")
    question = f"{verb} {len(hosts)} hosts ({prod} labelled env=prod)?"
    typed = typed_confirmation(hosts, load_config().typed_confirm_limit)
    if typed is not None:
        # As in the console: many hosts or production is confirmed by typing the count.
        confirmed = input(f"{question} Type {typed} to confirm: ").strip() == typed
    else:
        confirmed = input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}
    if not confirmed:
        raise ConfigError("not confirmed; nothing was changed")


def _interrupt_notice(job: PatchJob) -> None:
    first = not job.stopping
    job.cancel()
    if first:
        sys.stderr.write(
            "\npatchtui: interrupted: no new hosts will start; running installs finish "
            "(Ctrl+C again to stop waiting)\n"
        )
    else:
        sys.stderr.write(
            "\npatchtui: no longer waiting; installs already running go on on the hosts\n"
        )


def _run_job(job: PatchJob, printer: PatchPrinter, connector: SshConnector) -> int:
    summary = run_interruptible(job.run, lambda: _interrupt_notice(job), connector=connector)
    printer.print_report()
    return int(run_exit_code(printer.finish, summary))


def _connector(args: argparse.Namespace, password: str | None) -> SshConnector:
    from patchtui.transport.ssh import SshConnector

    return SshConnector(concurrency=args.concurrency, become_password=password)


def run_patch_command(args: argparse.Namespace) -> int:
    from patchtui.headless.matrix_output import check_format

    check_format(args)
    return run_patch_job(args, options_from_args(args), verb="Patch")


def run_patch_job(args: argparse.Namespace, options: PatchOptions, *, verb: str) -> int:
    """Ask, connect and run one PatchJob over the selected hosts (``patch``, ``reboot``)."""
    inventory, hosts = selected_hosts(args)
    windows_by_host(hosts)  # a malformed window stops here, before any question or host
    notifier = notifier_for(args)
    store = open_store(args)
    try:
        again = getattr(args, "retry", None) or getattr(args, "resume", None)
        if again:
            mode = "retry" if getattr(args, "retry", None) else "resume"
            hosts = hosts_again(store, again, hosts, mode=mode)
        named = canaries_from_args(args, inventory, hosts)
        options = dataclasses.replace(
            options,
            canary_hosts=named,
            canary_fitness=fitness_from_store(store, hosts),
            blue_green=blue_green_from_args(args, hosts),
        )
        confirm(args, hosts, verb, plan=options.plan(hosts), options=options)
        password = become_password(args)
        from patchtui.headless.matrix_output import printer_for

        printer = printer_for(args)
        connector = _connector(args, password)
        extra = {"again": {"mode": mode, "run": again}} if again else None
        job = PatchJob(
            hosts,
            connector=connector,
            emit=notifier.sink(printer),
            options=options,
            store=store,
            extra_options=extra,
        )
        code = _run_job(job, printer, connector)
        alerts.finish(notifier, store, job.run_id)
        return code
    finally:
        store.close()


def run_rollback_command(args: argparse.Namespace) -> int:
    _, selected = selected_hosts(args)
    notifier = notifier_for(args)
    store = open_store(args)
    try:
        run = store.run(args.run)
        if run is None:
            raise ConfigError(f"no run {args.run!r} in the database (see 'patchtui history')")
        changes = changes_from_results(store.host_results(args.run))
        hosts = [host for host in selected if host.name in changes]
        if not hosts:
            raise ConfigError(f"run {args.run} changed no package on the selected hosts")
        confirm(args, hosts, "Roll back")
        password = become_password(args)
        printer = PatchPrinter(as_json=args.json)
        connector = _connector(args, password)
        options = PatchOptions(dry_run=args.dry_run, reboot=args.reboot)
        job = RollbackJob(
            hosts,
            source_run=args.run,
            changes_by_host=changes,
            connector=connector,
            emit=notifier.sink(printer),
            options=options,
            store=store,
        )
        code = _run_job(job, printer, connector)
        alerts.finish(notifier, store, job.run_id)
        return code
    finally:
        store.close()
