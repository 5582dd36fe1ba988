"""`patchtui patch` and `patchtui rollback` end to end: real processes, real SSH, the lab."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.exit_codes import ExitCode


def test_faulty_fleet_halts_with_a_reason_and_skips_the_rest(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(40, faults="some")

    result = run_patchtui(
        "patch",
        "-i",
        str(lab.inventory),
        "--db",
        str(tmp_path / "db.json"),
        "--canary",
        "2",
        "--batch",
        "25%",
        "--max-failures",
        "10%",
        "--yes",
        "--json",
    )

    assert result.returncode == ExitCode.HALTED, result.stderr
    lines = json_lines(result.stdout)
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["outcome"] == "halted"
    assert summary["halted"] is True and summary["halt_reason"]
    # Every skipped host is accounted for, with why.
    assert summary["skipped_reasons"] == {"halted": summary["skipped"]}
    assert summary["waves"] == 5  # canary + four waves of 25%
    results = summary["results"]
    assert isinstance(results, dict)
    assert results.get("skipped", 0) > 0 and results.get("failed", 0) >= 1
    assert summary["hosts"] == 40 == sum(results.values())
    halted = [line for line in lines if line["type"] == "run_halted"]
    assert len(halted) == 1 and halted[0]["reason"] == summary["halt_reason"]
    skipped = [line for line in lines if line.get("result") == "skipped"]
    assert all(line["error"] == summary["halt_reason"] for line in skipped)


def test_clean_fleet_patches_ok_rescan_is_empty_and_rollback_restores(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(10, faults="none")
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    first_scan = json_lines(run_patchtui("scan", "-i", inventory, "--json", "--db", db).stdout)
    pending_before = {
        line["host"]: {u["name"]: u["installed"] for u in line["updates"]}  # type: ignore[union-attr]
        for line in first_scan
        if line["type"] == "host_result"
    }

    dry = run_patchtui("patch", "-i", inventory, "--db", db, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = [line for line in json_lines(dry.stdout) if line.get("result") == "planned"]
    assert planned and any(line["changes"] for line in planned)
    dry_summary = json_lines(dry.stdout)[-1]
    assert dry_summary["outcome"] == "dry-run" and dry_summary["dry_run"] is True
    # Listed as a dry run wherever runs are listed, and it left no host state behind.
    listed = json_lines(run_patchtui("history", "--db", db, "--json").stdout)
    dry_listed = next(line for line in listed if line.get("run_id") == dry_summary["run_id"])
    assert dry_listed["dry_run"] is True and dry_listed["status"] == "dry-run"
    scan_listed = next(line for line in listed if line.get("operation") == "scan")
    assert scan_listed["dry_run"] is False and scan_listed["status"] == "completed"
    table = run_patchtui("history", "--db", db).stdout
    assert "dry run" in table

    patch = run_patchtui("patch", "-i", inventory, "--db", db, "--batch", "50%", "--yes", "--json")
    assert patch.returncode == 0, patch.stderr
    lines = json_lines(patch.stdout)
    summary = lines[-1]
    assert summary["halted"] is False and summary["ok"] == 10 and summary["waves"] == 2
    assert summary["outcome"] == "completed" and summary["skipped"] == 0
    assert any(line.get("rebooted") for line in lines if line["type"] == "host_result")
    run_id = str(summary["run_id"])

    rescan = json_lines(run_patchtui("scan", "-i", inventory, "--json", "--db", db).stdout)
    assert rescan[-1]["ok"] == 10 and rescan[-1]["pending"] == 0

    rollback = run_patchtui(
        "rollback",
        "-i",
        inventory,
        "--db",
        db,
        "--run",
        run_id,
        "--reboot",
        "never",
        "--yes",
        "--json",
    )
    assert rollback.returncode == 0, rollback.stdout[-2000:] + rollback.stderr
    # Hosts being rolled back say so (they read "patching" before: issue 16).
    states = {line["state"] for line in json_lines(rollback.stdout) if line["type"] == "host_state"}
    assert "rolling-back" in states and "patching" not in states, states
    restored = json_lines(run_patchtui("scan", "-i", inventory, "--json", "--db", db).stdout)
    pending_after = {
        line["host"]: {u["name"]: u["installed"] for u in line["updates"]}  # type: ignore[union-attr]
        for line in restored
        if line["type"] == "host_result"
    }
    assert pending_after == pending_before


def test_rollback_of_an_unknown_run_is_bad_input(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(7, faults="none")
    result = run_patchtui(
        "rollback",
        "-i",
        str(lab.inventory),
        "--db",
        str(tmp_path / "db.json"),
        "--run",
        "nope",
        "--yes",
    )
    assert result.returncode == 2
    assert "no run 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_canaries_are_never_hosts_whose_last_scan_failed(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """Seen: with 40 hosts the canaries were the two whose last scan had failed."""
    lab = lab_process(40, faults="some")
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    scan = json_lines(run_patchtui("scan", "-i", inventory, "--db", db, "--json").stdout)
    failed = {line["host"] for line in scan if line["type"] == "host_result"} - {
        line["host"] for line in scan if line.get("state") == "ok"
    }
    assert failed  # the lab's faulty hosts

    dry = run_patchtui("patch", "-i", inventory, "--db", db, "--canary", "2", "--dry-run", "--json")
    waves = [line for line in json_lines(dry.stdout) if line["type"] == "wave_started"]
    canaries = set(waves[0]["hosts"])  # type: ignore[arg-type]
    assert waves[0]["label"] == "canary" and len(canaries) == 2
    assert not canaries & failed

    first_failed = sorted(failed)[0]
    named = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--canary-hosts", first_failed, "--dry-run", "--json"
    )
    waves = [line for line in json_lines(named.stdout) if line["type"] == "wave_started"]
    assert waves[0]["label"] == "canary" and waves[0]["hosts"] == [first_failed]
    nobody = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--canary-hosts", "no-such-*", "--dry-run"
    )
    assert nobody.returncode == ExitCode.BAD_INPUT and "--canary-hosts" in nobody.stderr


def test_a_failing_post_hook_keeps_the_changes_and_rollback_restores_them(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """`--post false` after a real install: the host is failed, but what it installed is
    recorded, and `rollback --run` puts the old versions back (issue 14: it said the run
    "changed no package")."""
    lab = lab_process(4, faults="none")
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    first_scan = json_lines(run_patchtui("scan", "-i", inventory, "--json", "--db", db).stdout)
    installed_before = {
        line["host"]: {u["name"]: u["installed"] for u in line["updates"]}  # type: ignore[union-attr]
        for line in first_scan
        if line["type"] == "host_result"
    }
    assert any(installed_before.values())

    patch = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--post", "false", "--reboot", "never",
        "--yes", "--json",
    )  # fmt: skip
    assert patch.returncode == 1, patch.stderr
    lines = json_lines(patch.stdout)
    run_id = str(lines[-1]["run_id"])
    results = [line for line in lines if line["type"] == "host_result"]
    changed = [line for line in results if line["changes"]]
    assert changed and all(line["result"] == "failed" for line in results), results
    assert all(line["error_kind"] == "post-check" for line in results)
    for line in changed:
        changes = line["changes"]
        assert isinstance(changes, list)
        updated = {change["name"] for change in changes if change["before"] is not None}
        assert updated == set(installed_before[str(line["host"])])
        # Beside the targets, only what the install pulled in: a Debian host's new kernel.
        pulled_in = {change["name"] for change in changes if change["before"] is None}
        assert all(name.startswith("linux-image-") for name in pulled_in), pulled_in

    history = json_lines(run_patchtui("history", "--db", db, "--run", run_id, "--json").stdout)
    stored = {str(row["host"]): row for row in history if row["type"] == "host_result"}
    for line in changed:
        assert stored[str(line["host"])]["changes"] == line["changes"]

    rollback = run_patchtui(
        "rollback", "-i", inventory, "--db", db, "--run", run_id, "--reboot", "never",
        "--yes", "--json",
    )  # fmt: skip
    assert rollback.returncode == 0, rollback.stdout[-2000:] + rollback.stderr
    rolled = [line for line in json_lines(rollback.stdout) if line["type"] == "host_result"]
    assert {line["host"] for line in rolled} == {line["host"] for line in changed}
    restored = json_lines(run_patchtui("scan", "-i", inventory, "--json", "--db", db).stdout)
    installed_after = {
        line["host"]: {u["name"]: u["installed"] for u in line["updates"]}  # type: ignore[union-attr]
        for line in restored
        if line["type"] == "host_result"
    }
    assert installed_after == installed_before


def test_retry_takes_the_hosts_that_failed_and_resume_the_ones_never_reached(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(24, faults="some")
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    first = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--batch", "25%", "--yes", "--json",
        "--reboot", "never",
    )  # fmt: skip
    lines = json_lines(first.stdout)
    summary = lines[-1]
    assert summary["halted"] is True, summary  # the faulty hosts halt it
    results = {str(line["host"]): line for line in lines if line["type"] == "host_result"}
    not_ok = {
        h for h, line in results.items() if line["result"] not in ("ok", "ok-reboot-required")
    }
    never = {
        h
        for h, line in results.items()
        if line["result"] == "interrupted"
        or (line["result"] == "skipped" and line["error_kind"] in ("halted", "cancelled"))
    }
    assert never and never < not_ok
    run_id = str(summary["run_id"])

    def hosts_of(*flags: str) -> set[str]:
        again = run_patchtui("patch", "-i", inventory, "--db", db, *flags, "--dry-run", "--json")
        assert again.returncode in (0, 1), again.stderr
        return {
            str(line["host"]) for line in json_lines(again.stdout) if line["type"] == "host_result"
        }

    assert hosts_of("--retry", run_id) == not_ok
    assert hosts_of("--resume", run_id) == never
    bad = run_patchtui("patch", "-i", inventory, "--db", db, "--retry", "nope", "--dry-run")
    assert bad.returncode == ExitCode.BAD_INPUT and "--retry: no run 'nope'" in bad.stderr
