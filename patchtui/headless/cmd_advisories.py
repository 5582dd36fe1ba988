"""``patchtui advisories``: which CVEs and advisories are still open, on how many hosts.

Read from the store's hot host state (the last scan of each host): every
pending update's CVE ids, advisory ids (dnf/yum updateinfo, zypper patches)
and severity, plus what the distributions' OSV records say about it once
``patchtui advisories sync --from PATH|URL`` has imported them: the advisory
ids, the distribution's own severity word (Ubuntu priority, Debian urgency,
Red Hat's rating), the CVSS score and the published date. An apt/apk
security update without ids is listed under its repository and package, so
Debian/Ubuntu security fixes still show up without OSV data. The rows are
``patchtui.advisories.pending``'s, the same the console's advisories screen lists.

Rows are most severe first, then oldest first: critical holes first, and
among equals what has waited longest. When the OSV data is missing or older
than ``--max-age`` days (config ``advisories_max_age_days``), a line on stderr
(and the JSON summary's ``osv`` object) says so.
"""

from __future__ import annotations

import argparse
from typing import Any

from patchtui.advisories.pending import SEVERITY_ORDER, pending_advisories

SEVERITY_WORDS = (*SEVERITY_ORDER, "high", "medium")
"""What --severity accepts: patchtui's scale, and the OSV/Ubuntu words high and medium."""


def register(commands: Any, kit: Any) -> None:
    advisories = commands.add_parser(
        "advisories",
        help="pending CVEs and advisories from the last scans (most severe first); "
        "`advisories sync --from PATH|URL` imports OSV records",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    advisories.add_argument(
        "action", nargs="?", choices=("sync",), help="sync: import OSV advisory records"
    )
    kit.add_selection(advisories, required=False)
    kit.add_db(advisories)
    advisories.add_argument(
        "--from",
        dest="source",
        metavar="PATH|URL",
        help="with sync: a directory of OSV .json files, a zip (osv.dev's per-ecosystem "
        "all.zip), one .json file, or an http(s) URL of one",
    )
    advisories.add_argument("--cve", metavar="ID", help="only this CVE or advisory id")
    advisories.add_argument(
        "--severity",
        choices=SEVERITY_WORDS,
        type=str.lower,
        help="only this severity (high = important, medium = moderate)",
    )
    advisories.add_argument(
        "--max-age",
        type=kit.positive_int,
        metavar="DAYS",
        help="OSV data older than this is reported stale (default: config "
        "advisories_max_age_days, else 7)",
    )
    advisories.add_argument("--json", action="store_true", help="one JSON object per line")
    advisories.set_defaults(handler=_handler)


def max_age_days(args: argparse.Namespace) -> int:
    from patchtui.advisories.store import DEFAULT_MAX_AGE_DAYS
    from patchtui.config import load_config

    if getattr(args, "max_age", None):
        return int(args.max_age)
    configured = load_config().advisories_max_age_days
    return DEFAULT_MAX_AGE_DAYS if configured is None else configured


def _handler(args: argparse.Namespace) -> int:
    from patchtui.errors import ConfigError

    if args.action == "sync":
        if not args.source:
            raise ConfigError(
                "advisories sync needs --from PATH|URL (an OSV zip, directory or file)"
            )
        return _sync(args)
    if args.source:
        raise ConfigError("--from is only for `advisories sync`")
    return _list(args)


def _sync(args: argparse.Namespace) -> int:
    import time

    from patchtui.advisories.store import advisories_path_for, sync
    from patchtui.exit_codes import ExitCode
    from patchtui.headless.common import db_path
    from patchtui.headless.output import emit_json

    now = time.time()
    result = sync(advisories_path_for(db_path(args)), args.source, now=now)
    if args.json:
        emit_json(result.to_json(now))
        return int(ExitCode.OK)
    summary = result.to_json(now)
    age = summary["newest_age_days"]
    newest = "no dated records" if age is None else f"newest record modified {age:g} days ago"
    print(
        f"{result.total} OSV records stored ({result.added} new, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.removed} withdrawn) from {result.read} read; "
        f"{newest}"
    )
    return int(ExitCode.OK)


def _list(args: argparse.Namespace) -> int:
    import sys
    import time

    from patchtui.advisories.store import advisories_path_for, freshness, load
    from patchtui.exit_codes import ExitCode
    from patchtui.headless.common import db_path, open_store, selected_hosts
    from patchtui.headless.output import emit_json, render_table

    store = open_store(args, readonly=True)
    try:
        states = store.hosts()
    finally:
        store.close()
    if args.inventory:
        _, hosts = selected_hosts(args)
        names = {host.name for host in hosts}
        states = [state for state in states if state.get("name") in names]
    now = time.time()
    data = load(advisories_path_for(db_path(args)))
    fresh = freshness(data, now, max_age_days(args))
    from patchtui.advisories.osv import severity_choice

    wanted = severity_choice(args.severity) if args.severity else None
    rows = pending_advisories(states, data, cve=args.cve, severity=wanted)
    affected = set().union(*(row.hosts for row in rows)) if rows else set()
    note = fresh.message()
    if note:
        sys.stderr.write(f"warning: {note}\n")
    if args.json:
        for row in rows:
            emit_json(row.to_json())
        emit_json(
            {
                "type": "summary",
                "advisories": len(rows),
                "hosts": len(affected),
                "osv": fresh.to_json(),
            }
        )
        return int(ExitCode.OK)
    table = [
        [
            row.id,
            row.severity + (f" ({', '.join(sorted(row.words))})" if row.words else ""),
            "" if row.cvss is None else f"{row.cvss:.1f}",
            _date(row.published),
            len(row.hosts),
            _age(row.oldest_first_seen, now),
            ", ".join(sorted(row.packages)[:3]) + (", …" if len(row.packages) > 3 else ""),
            ", ".join(sorted(row.hosts)[:3]) + (", …" if len(row.hosts) > 3 else ""),
        ]
        for row in rows
    ]
    if table:
        headers = [
            "CVE/ADVISORY",
            "SEVERITY",
            "CVSS",
            "PUBLISHED",
            "HOSTS",
            "FIRST SEEN",
            "PACKAGES",
            "E.G.",
        ]
        print(render_table(headers, table))
    print(f"{len(rows)} advisories pending on {len(affected)} hosts")
    return int(ExitCode.OK)


def _date(moment: float | None) -> str:
    if moment is None:
        return ""
    import datetime as dt

    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%d")


def _age(moment: float | None, now: float) -> str:
    if moment is None:
        return "?"
    days = max(0.0, now - moment) / 86_400
    return f"{days:.0f}d ago" if days >= 1 else f"{days * 24:.0f}h ago"
