"""``patchtui history``: what ran, when, by whom, with what result; and pruning old runs."""

from __future__ import annotations

import argparse
import re
import time
from typing import TYPE_CHECKING

from patchtui.engine.outcome import (
    normalize_outcome,
    skipped_text,
    stored_run_is_dry,
    stored_run_label,
    summary_from_record,
)
from patchtui.errors import ConfigError
from patchtui.exit_codes import ExitCode
from patchtui.headless.common import open_store
from patchtui.headless.output import emit_json, render_table
from patchtui.textsafe import strip_control

if TYPE_CHECKING:
    from patchtui.store.db import Store


def parse_age(text: str) -> float:
    """'90d', '12h', '2w' -> days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw])\s*", text)
    if match is None:
        raise ConfigError(f"--older-than takes e.g. 90d, 12h or 2w, got {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"h": 1 / 24, "d": 1.0, "w": 7.0}[unit]


def _when(epoch: object) -> str:
    if not isinstance(epoch, int | float):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _counts(run: dict[str, object]) -> str:
    summary = summary_from_record(run.get("counts"))
    if summary is None:
        return ""
    if summary.results:
        parts = [f"{n} {k}" for k, n in sorted(summary.results.items()) if k != "skipped"]
    else:
        parts = [
            f"{n} {k}"
            for k, n in (
                ("ok", summary.ok),
                ("failed", summary.failed),
                ("unreachable", summary.unreachable),
                ("interrupted", summary.interrupted),
            )
            if n
        ]
    if skipped := skipped_text(summary):
        parts.append(skipped)
    return ", ".join(parts)


def _run_line(run: dict[str, object]) -> dict[str, object]:
    """A run for scripts: the stored record, its outcome in today's words, dry_run explicit."""
    return {
        "type": "run",
        **run,
        "status": normalize_outcome(str(run.get("status") or "")) or "running",
        "dry_run": stored_run_is_dry(run),
    }


def run_history_command(args: argparse.Namespace) -> int:
    store = open_store(args, readonly=args.action != "prune")
    try:
        if args.action == "prune":
            if not args.older_than:
                raise ConfigError("history prune needs --older-than, e.g. --older-than 90d")
            removed = store.prune(parse_age(args.older_than))
            if args.json:
                emit_json({"type": "summary", "pruned": removed})
            else:
                print(f"pruned {removed} runs older than {args.older_than}")
            return int(ExitCode.OK)
        if args.run:
            return _show_run(store, args)
        runs = store.runs(limit=args.last, host=args.host)
        if args.json:
            for run in runs:
                emit_json(_run_line(run))
            emit_json({"type": "summary", "runs": len(runs)})
            return int(ExitCode.OK)
        rows = [
            [
                run.get("run_id"),
                run.get("operation"),
                stored_run_label(run),
                run.get("user"),
                _when(run.get("started")),
                run.get("host_count", ""),
                _counts(run),
            ]
            for run in runs
        ]
        print(
            render_table(
                ["RUN", "OPERATION", "STATUS", "USER", "STARTED", "HOSTS", "RESULTS"], rows
            )
        )
        return int(ExitCode.OK)
    finally:
        store.close()


def _show_run(store: Store, args: argparse.Namespace) -> int:
    run = store.run(args.run)
    if run is None:
        raise ConfigError(f"no run {args.run!r} in the database (see 'patchtui history')")
    results = [
        r for r in store.host_results(args.run) if not args.host or r.get("host") == args.host
    ]
    if args.json:
        emit_json(_run_line({k: v for k, v in run.items() if k != "hosts"}))
        for result in results:
            line = {"type": "host_result", **result}
            if args.host:
                line["transcript"] = store.transcript(args.run, str(result.get("host")))
            emit_json(line)
        emit_json({"type": "summary", "hosts": len(results)})
        return int(ExitCode.OK)
    print(
        f"run {run.get('run_id')}: {run.get('operation')} {stored_run_label(run)} "
        f"by {run.get('user')} at {_when(run.get('started'))}"
    )
    if alerts := _alerts_line(run.get("notify")):
        print(alerts)
    rows: list[list[object]] = []
    for result in results:
        changes = result.get("changes") or []
        changed = ", ".join(
            f"{c.get('name')} {c.get('before') or '-'}->{c.get('after') or '-'}"
            for c in changes[:3]
        )
        if len(changes) > 3:
            changed += f", +{len(changes) - 3}"
        rows.append([result.get("host"), result.get("status"), changed, result.get("error") or ""])
    print(render_table(["HOST", "RESULT", "CHANGES", "ERROR"], rows))
    if args.host:
        print(f"--- transcript of {args.host}")
        for text in store.transcript(args.run, args.host).splitlines():
            print(strip_control(text))
    return int(ExitCode.OK)


def _alerts_line(deliveries: object) -> str:
    """``alerts: halt to https://hooks.example/…: ok; run-end to mailto:x: failed (...)``."""
    if not isinstance(deliveries, list) or not deliveries:
        return ""
    parts = []
    for each in deliveries:
        if not isinstance(each, dict):
            continue
        state = "ok" if each.get("ok") else f"failed ({each.get('detail') or '?'})"
        parts.append(f"{each.get('event')} to {each.get('target')}: {state}")
    return strip_control("alerts: " + "; ".join(parts)) if parts else ""
