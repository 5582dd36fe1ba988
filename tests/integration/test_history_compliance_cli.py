"""`patchtui history` and `patchtui compliance` against a scanned and patched lab."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui


def test_compliance_before_and_after_patching_and_history(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(8, faults="none")
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)

    never = run_patchtui("compliance", "-i", inventory, "--db", db, "--format", "json")
    assert never.returncode == 3  # nothing scanned yet: unknown is not compliant
    assert json_lines(never.stdout)[-1]["unknown"] == 8

    assert run_patchtui("scan", "-i", inventory, "--db", db).returncode == 0
    before = run_patchtui("compliance", "-i", inventory, "--db", db, "--format", "json")
    assert before.returncode == 3, before.stderr
    hosts = [line for line in json_lines(before.stdout) if line["type"] == "host"]
    failing = [h for h in hosts if h["status"] == "non-compliant"]
    assert failing
    codes = {r["code"] for h in failing for r in h["reasons"]}  # type: ignore[union-attr]
    assert "security-pending" in codes

    patch = run_patchtui("patch", "-i", inventory, "--db", db, "--yes", "--json")
    assert patch.returncode == 0, patch.stderr
    after = run_patchtui("compliance", "-i", inventory, "--db", db)
    assert after.returncode == 0, after.stdout
    assert "8 compliant" in after.stdout

    report = tmp_path / "report.html"
    html = run_patchtui(
        "compliance", "-i", inventory, "--db", db, "--format", "html", "--output", str(report)
    )
    assert html.returncode == 0
    assert report.read_text().lstrip().lower().startswith("<!doctype html")
    table = run_patchtui("compliance", "-i", inventory, "--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert len(rows) == 8
    metrics = tmp_path / "textfile" / "patchtui.prom"
    metrics.parent.mkdir()
    prom = run_patchtui(
        "compliance",
        "-i",
        inventory,
        "--db",
        db,
        "--format",
        "prometheus",
        "--output",
        str(metrics),
    )
    assert prom.returncode == 0
    samples = [line for line in metrics.read_text().splitlines() if not line.startswith("#")]
    assert sum(1 for line in samples if line.startswith("patchtui_host_compliant{")) == 8
    assert not list(metrics.parent.glob("*.tmp*"))  # written atomically, no temp file left

    history = json_lines(run_patchtui("history", "--db", db, "--json").stdout)
    runs = [line for line in history if line["type"] == "run"]
    assert [run["operation"] for run in runs] == ["patch", "scan"]  # newest first
    patch_id = str(runs[0]["run_id"])
    host = str(next(h["host"] for h in hosts if h["status"] == "non-compliant"))
    detail = json_lines(
        run_patchtui("history", "--db", db, "--run", patch_id, "--host", host, "--json").stdout
    )
    result = next(line for line in detail if line["type"] == "host_result")
    assert result["status"] == "ok" and result["changes"]
    assert "[detached]" in str(result["transcript"])

    pruned = run_patchtui("history", "prune", "--older-than", "0d", "--db", db, "--json")
    assert pruned.returncode == 0 and json_lines(pruned.stdout)[-1]["pruned"] == 2
    bad = run_patchtui("history", "prune", "--older-than", "soon", "--db", db)
    assert bad.returncode == 2 and "--older-than" in bad.stderr
