"""The staging-to-production commands end to end: advisories, baseline, promotion, reboot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui


def test_advisories_baseline_promotion_and_reboot_from_the_command_line(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(24, faults="none")  # seed 1: some staging hosts among them
    inventory, db = str(lab.inventory), str(tmp_path / "db.json")
    assert run_patchtui("scan", "-i", inventory, "--db", db).returncode == 0

    advisories = json_lines(
        run_patchtui("advisories", "-i", inventory, "--db", db, "--json").stdout
    )
    rows = [line for line in advisories if line["type"] != "summary"]
    assert rows and advisories[-1]["type"] == "summary"
    assert all(row["hosts"] for row in rows)
    critical = json_lines(
        run_patchtui(
            "advisories", "-i", inventory, "--db", db, "--severity", "critical", "--json"
        ).stdout
    )
    assert all(row["severity"] == "critical" for row in critical if row["type"] != "summary")

    staging = run_patchtui(
        "patch",
        "-i",
        inventory,
        "--db",
        db,
        "--limit",
        "env=staging",
        "--reboot",
        "never",
        "--yes",
        "--json",
    )
    assert staging.returncode == 0, staging.stderr
    run_id = str(json_lines(staging.stdout)[-1]["run_id"])

    created = run_patchtui(
        "baseline", "create", "tested", "--from-run", run_id, "--db", db, "--json"
    )
    assert created.returncode == 0, created.stderr
    listed = json_lines(run_patchtui("baseline", "list", "--db", db, "--json").stdout)
    assert [line["name"] for line in listed if line["type"] != "summary"] == ["tested"]
    duplicate = run_patchtui("baseline", "create", "tested", "--from-run", run_id, "--db", db)
    assert duplicate.returncode == 2 and "Traceback" not in duplicate.stderr

    plan = run_patchtui(
        "patch",
        "-i",
        inventory,
        "--db",
        db,
        "--limit",
        "env=prod",
        "--baseline",
        "tested",
        "--dry-run",
        "--json",
    )
    assert plan.returncode in (0, 1), plan.stderr  # prod hosts of other OS releases are skipped
    results = [line for line in json_lines(plan.stdout) if line["type"] == "host_result"]
    assert results and any(line["result"] == "planned" for line in results)
    assert all(line["result"] in {"planned", "skipped", "ok"} for line in results)

    target = next(str(line["host"]) for line in results if line["result"] == "planned")
    reboot = run_patchtui(
        "reboot", "-i", inventory, "--db", db, "--limit", target, "--yes", "--json"
    )
    assert reboot.returncode == 0, reboot.stderr
    rebooted = next(line for line in json_lines(reboot.stdout) if line["type"] == "host_result")
    assert rebooted["rebooted"] is True and rebooted["changes"] == []

    unknown = run_patchtui("patch", "-i", inventory, "--db", db, "--baseline", "nope", "--yes")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
