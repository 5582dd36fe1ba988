"""``patchtui compliance``: evaluate the stored host state against a policy; write a report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchtui.compliance.evaluate import evaluate_fleet
from patchtui.compliance.policy import DEFAULT_POLICY, load_policy
from patchtui.compliance.report import render, write_atomically
from patchtui.config import load_config
from patchtui.engine.outcome import COMPLETED
from patchtui.errors import ConfigError, PatchtuiError
from patchtui.exit_codes import ExitCode
from patchtui.headless import alerts
from patchtui.headless.common import db_path, open_store, selected_hosts

if TYPE_CHECKING:
    from patchtui.compliance.evaluate import ComplianceReport
    from patchtui.engine.notify import Notifier
    from patchtui.store.db import Store


def _check_output_dir(output: str) -> None:
    """Refuse a report path whose directory is missing before any work is done."""
    directory = Path(output).parent
    if not directory.is_dir():
        state = "is not a directory" if directory.exists() else "does not exist"
        raise ConfigError(f"--output {output}: directory {directory} {state}")


def run_compliance_command(args: argparse.Namespace) -> int:
    if args.output:
        _check_output_dir(args.output)
    # --policy, else config.toml's [defaults] policy, else the built-in SSM-strict one.
    policy_path = args.policy or load_config().policy
    policy = load_policy(policy_path) if policy_path else DEFAULT_POLICY
    _, hosts = selected_hosts(args)
    notifier = alerts.notifier_for(args, "compliance")
    store = open_store(args, readonly=True)
    try:
        stored = {str(doc.get("name")): doc for doc in store.hosts()}
    finally:
        store.close()
    # A selected host with no stored state was never scanned: it is evaluated
    # (as unknown), never silently left out of the report.
    states = [stored.get(host.name, {"name": host.name}) for host in hosts]
    now = time.time()
    states, notes = _with_advisories(args, states, now)
    baseline = None
    if getattr(args, "baseline", None):
        from patchtui.baselines.store import BaselineBook

        baseline = BaselineBook(db_path(args)).require(args.baseline)
    report = evaluate_fleet(
        states,
        policy,
        now,
        source=str(db_path(args)),
        baseline=baseline,
        notes=notes,
        stale_mirror_days=load_config().stale_mirror_limit,
    )
    text = render(report, args.format)
    if args.output:
        try:
            write_atomically(args.output, text)
        except OSError as error:
            raise ConfigError(
                f"--output {args.output}: cannot write the report: {error.strerror or error}"
            ) from None
        summary = report.summary_dict()
        sys.stderr.write(f"compliance report written to {args.output}: {summary}\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    _alert_critical_missing(args, notifier, report, [host.name for host in hosts])
    return int(ExitCode.OK if report.all_compliant else ExitCode.NON_COMPLIANT)


def _alert_critical_missing(
    args: argparse.Namespace, notifier: Notifier, report: ComplianceReport, hosts: list[str]
) -> None:
    """Alert when critical fixes are missing past grace; the check is then kept in history
    as a ``compliance`` run, so its deliveries are recorded like any run's. Nothing here
    changes the report or the exit code: a store that cannot be written is a warning."""
    from patchtui.engine.notify import CRITICAL_MISSING, critical_missing_event

    if not notifier.settings.wants(CRITICAL_MISSING):
        return
    payload = critical_missing_event(report)
    if payload is None:
        return
    store: Store | None = None
    run_id: str | None = None
    try:
        store = open_store(args)
        run_id = store.start_run("compliance", hosts, {"policy": report.policy.name})
    except (PatchtuiError, OSError) as error:
        alerts.warn(f"warning: the compliance alert is not recorded in the database: {error}")
    try:
        notifier.send({**payload, "run_id": run_id})
        deliveries = notifier.finish()
        if store is not None and run_id is not None:
            try:
                store.finish_run(run_id, COMPLETED, report.summary)
            except (PatchtuiError, OSError) as error:
                alerts.warn(f"warning: could not record the compliance run: {error}")
            else:
                alerts.record_deliveries(store, run_id, deliveries)
    finally:
        if store is not None:
            store.close()


def _with_advisories(
    args: argparse.Namespace, states: list[dict[str, Any]], now: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """States with the synced OSV advisories applied, and a note if that data is stale.

    No OSV data at all is not worth a note here: the package managers' own
    classification is what compliance has always used.
    """
    from patchtui.advisories.osv import annotate_states
    from patchtui.advisories.store import advisories_path_for, freshness, load
    from patchtui.headless.cmd_advisories import max_age_days

    data = load(advisories_path_for(db_path(args)))
    if not data.records:
        return states, []
    fresh = freshness(data, now, max_age_days(args))
    note = fresh.message()
    return annotate_states(states, data.index()), [note] if note else []
