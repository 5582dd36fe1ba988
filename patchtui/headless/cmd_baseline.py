"""``patchtui baseline create/show/list/diff/delete``: approved versions to promote.

This module also adds ``--baseline NAME`` and ``--ignore-window`` to ``patch``
and ``--baseline NAME`` to ``compliance`` (declared here because those parsers
live in cli.py; the flags are read by patch_command and compliance_command).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from patchtui.exit_codes import ExitCode


def register(commands: Any, kit: Any) -> None:
    baseline = commands.add_parser(
        "baseline",
        help="approved package versions per OS release, made from a staging run",
        epilog=kit.epilog,
        formatter_class=kit.formatter,
    )
    actions = baseline.add_subparsers(dest="baseline_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="snapshot what a (staging) patch run installed")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--from-run", required=True, metavar="RUN_ID", help="a patch run")
    create.add_argument(
        "--security-only", action="store_true", help="approve only security updates"
    )
    create.add_argument(
        "--reject", action="append", metavar="GLOB", help="never approve these (repeatable)"
    )
    create.add_argument(
        "--min-age",
        type=float,
        metavar="DAYS",
        help="approve only updates first seen pending at least DAYS days ago",
    )
    create.add_argument("--replace", action="store_true", help="overwrite a baseline of that name")

    show = actions.add_parser("show", help="one baseline's versions, rules and rejections")
    show.add_argument("name", metavar="NAME")
    actions.add_parser("list", help="all baselines")
    diff = actions.add_parser("diff", help="packages whose approved versions differ")
    diff.add_argument("left", metavar="A")
    diff.add_argument("right", metavar="B")
    delete = actions.add_parser("delete", help="remove a baseline")
    delete.add_argument("name", metavar="NAME")
    for action in actions.choices.values():
        kit.add_db(action)
        action.add_argument("--json", action="store_true", help="one JSON object per line")
        action.set_defaults(handler=_handler)

    _extend_builtin_commands(commands)


def _extend_builtin_commands(commands: Any) -> None:
    patch = commands.choices.get("patch")
    if patch is not None:
        group = patch.add_argument_group("staging before production")
        group.add_argument(
            "--baseline",
            metavar="NAME",
            help="install exactly this baseline's versions (never newer; see 'patchtui baseline')",
        )
        group.add_argument(
            "--ignore-window",
            action="store_true",
            help="also work on hosts outside their maintenance window",
        )
    compliance = commands.choices.get("compliance")
    if compliance is not None:
        compliance.add_argument(
            "--baseline",
            metavar="NAME",
            help="also require the baseline's approved versions (reason baseline-missing)",
        )


def _handler(args: argparse.Namespace) -> int:
    from patchtui.baselines.store import BaselineBook
    from patchtui.headless.common import db_path

    book = BaselineBook(db_path(args))
    action = args.baseline_action
    if action == "create":
        return _create(args, book)
    if action == "show":
        return _show(args, book)
    if action == "list":
        return _list(args, book)
    if action == "diff":
        return _diff(args, book)
    return _delete(args, book)


def _create(args: argparse.Namespace, book: Any) -> int:
    from patchtui.baselines.model import BaselineRules, baseline_from_run, check_baseline_name
    from patchtui.errors import ConfigError
    from patchtui.headless.common import open_store

    check_baseline_name(args.name)
    if args.min_age is not None and args.min_age < 0:
        raise ConfigError("--min-age must not be negative")
    rules = BaselineRules(
        security_only=args.security_only,
        reject=tuple(args.reject or ()),
        min_age_days=args.min_age,
    )
    store = open_store(args, readonly=True)
    try:
        run = store.run(args.from_run)
        if run is None:
            raise ConfigError(f"no run {args.from_run!r} in the database (see 'patchtui history')")
        results = store.host_results(args.from_run)
        states = {str(doc.get("name")): doc for doc in store.hosts()}
    finally:
        store.close()
    baseline = baseline_from_run(
        args.name, run=run, results=results, host_states=states, rules=rules, now=time.time()
    )
    book.save(baseline, replace=args.replace)
    if args.json:
        from patchtui.headless.output import emit_json

        emit_json({"type": "baseline", **baseline.to_json()})
    else:
        print(
            f"baseline {baseline.name}: {baseline.package_count} approved versions for "
            f"{len(baseline.releases)} OS releases from run {baseline.source_run}"
            + (f"; {len(baseline.rejected)} rejected by rules" if baseline.rejected else "")
        )
        for note in baseline.notes:
            print(f"  note: {note}")
    return int(ExitCode.OK)


def _show(args: argparse.Namespace, book: Any) -> int:
    from patchtui.headless.output import emit_json, render_table

    baseline = book.require(args.name)
    if args.json:
        emit_json({"type": "baseline", **baseline.to_json()})
        return int(ExitCode.OK)
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(baseline.created))
    print(f"baseline {baseline.name}, made {created} from run {baseline.source_run or '-'}")
    print(f"rules: {baseline.rules.describe()}")
    rows = [
        [release, baseline.families.get(release, ""), name, version]
        for release, packages in sorted(baseline.releases.items())
        for name, version in sorted(packages.items())
    ]
    print(render_table(["RELEASE", "FAMILY", "PACKAGE", "APPROVED"], rows))
    if baseline.rejected:
        print("rejected:")
        rejected = [[r.release, r.name, r.version, r.reason] for r in baseline.rejected]
        print(render_table(["RELEASE", "PACKAGE", "VERSION", "REASON"], rejected))
    for note in baseline.notes:
        print(f"note: {note}")
    return int(ExitCode.OK)


def _list(args: argparse.Namespace, book: Any) -> int:
    from patchtui.headless.output import emit_json, render_table

    baselines = book.list()
    if args.json:
        for baseline in baselines:
            emit_json(
                {
                    "type": "baseline",
                    "name": baseline.name,
                    "created": baseline.created,
                    "source_run": baseline.source_run,
                    "releases": sorted(baseline.releases),
                    "packages": baseline.package_count,
                    "rules": baseline.rules.to_json(),
                }
            )
        return int(ExitCode.OK)
    if not baselines:
        print("no baselines yet (patchtui baseline create NAME --from-run RUN_ID)")
        return int(ExitCode.OK)
    rows = [
        [
            b.name,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(b.created)),
            b.source_run or "-",
            ", ".join(sorted(b.releases)),
            b.package_count,
            b.rules.describe(),
        ]
        for b in baselines
    ]
    print(render_table(["NAME", "CREATED", "FROM RUN", "RELEASES", "PACKAGES", "RULES"], rows))
    return int(ExitCode.OK)


def _diff(args: argparse.Namespace, book: Any) -> int:
    from patchtui.baselines.model import diff_baselines
    from patchtui.headless.output import emit_json, render_table

    left, right = book.require(args.left), book.require(args.right)
    rows = diff_baselines(left, right)
    if args.json:
        for row in rows:
            emit_json(
                {
                    "type": "baseline-diff",
                    "release": row.release,
                    "package": row.name,
                    left.name: row.left,
                    right.name: row.right,
                }
            )
        return int(ExitCode.OK)
    if not rows:
        print(f"{left.name} and {right.name} approve the same versions")
        return int(ExitCode.OK)
    table = [[r.release, r.name, r.left or "-", r.right or "-"] for r in rows]
    print(render_table(["RELEASE", "PACKAGE", left.name.upper(), right.name.upper()], table))
    return int(ExitCode.OK)


def _delete(args: argparse.Namespace, book: Any) -> int:
    from patchtui.errors import ConfigError
    from patchtui.headless.output import emit_json

    if not book.delete(args.name):
        raise ConfigError(f"no baseline {args.name!r}")
    if args.json:
        emit_json({"type": "baseline-deleted", "name": args.name})
    else:
        print(f"deleted baseline {args.name}")
    return int(ExitCode.OK)
