"""``patchtui db check`` and ``patchtui db repair``."""

from __future__ import annotations

import argparse

from patchtui.exit_codes import ExitCode
from patchtui.headless.common import db_path
from patchtui.headless.output import emit_json
from patchtui.store import check_db, repair_db


def run_db_command(args: argparse.Namespace) -> int:
    path = db_path(args)
    if args.db_command == "check":
        findings = check_db(path)
        errors = [finding for finding in findings if finding.level == "error"]
        if args.json:
            for finding in findings:
                emit_json({"type": "finding", **finding.__dict__})
            emit_json(
                {
                    "type": "summary",
                    "path": str(path),
                    "errors": len(errors),
                    "findings": len(findings),
                }
            )
        else:
            for finding in findings:
                print(finding)
            print(f"{path}: {'OK' if not errors else f'{len(errors)} error(s)'}")
        return int(ExitCode.BAD_INPUT if errors else ExitCode.OK)

    report = repair_db(path)
    if args.json:
        for action in report.actions:
            emit_json({"type": "action", "action": action})
        for finding in report.remaining:
            emit_json({"type": "finding", **finding.__dict__})
        emit_json(
            {
                "type": "summary",
                "path": str(path),
                "ok": report.ok,
                "backups": [str(backup) for backup in report.backups],
            }
        )
    else:
        for action in report.actions or ["nothing to repair"]:
            print(action)
        for backup in report.backups:
            print(f"backup kept: {backup}")
        for finding in report.remaining:
            print(f"still: {finding}")
    return int(ExitCode.OK if report.ok else ExitCode.BAD_INPUT)
