"""Health gates and --rollback-on-failure end to end: the real CLI, real SSH, the lab.

Two lab hosts get the fault ``unhealthy-after-patch``: their application
(``systemctl is-active app``) fails once they run any newer package, and
recovers when the old versions are back.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.exit_codes import ExitCode

BROKEN = ("lab-deb-0001", "lab-ubu-0002")
"""The first wave of --batch 2 on the six-host lab (seed 1); both have pending updates."""
FAULT = "unhealthy-after-patch=" + ",".join(BROKEN)
GATE = (
    "--health-check",
    "systemctl is-active app",
    "--health-timeout",
    "1.5",
    "--health-interval",
    "0.3",
)


def _pending(inventory: str, db: str) -> dict[str, dict[str, str]]:
    scan = run_patchtui("scan", "-i", inventory, "--db", db, "--json")
    assert scan.returncode == 0, scan.stderr
    return {
        str(line["host"]): {u["name"]: u["installed"] for u in line["updates"]}  # type: ignore[union-attr]
        for line in json_lines(scan.stdout)
        if line["type"] == "host_result"
    }


def _patch(inventory: str, db: str, *extra: str) -> list[dict[str, object]]:
    result = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--batch", "2", "--max-failures", "1",
        "--reboot", "never", "--yes", "--json", *GATE, *extra,
    )  # fmt: skip
    assert result.returncode == ExitCode.HALTED, result.stdout[-3000:] + result.stderr
    return json_lines(result.stdout)


def _results(lines: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(line["host"]): line for line in lines if line["type"] == "host_result"}


def test_unhealthy_hosts_fail_the_gate_and_halt_the_run(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6, extra=("--fault", FAULT))
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    before = _pending(inventory, db)
    assert all(before[name] for name in BROKEN)

    lines = _patch(inventory, db)

    summary = lines[-1]
    assert summary["halted"] is True
    assert summary["halt_reason"] == "failure threshold reached: 2 failed, 1 allowed"
    assert summary["skipped_reasons"] == {"halted": 4}
    results = _results(lines)
    for name in BROKEN:
        line = results[name]
        assert line["result"] == "failed" and line["error_kind"] == "health-check"
        assert "unhealthy after" in str(line["error"]) and "exit 3: failed" in str(line["error"])
        health = line["health"]
        assert isinstance(health, dict) and health["healthy"] is False and health["attempts"] >= 2
        assert line["changes"], "the patch did change the host before its gate failed"
        assert "rollback" not in line
        probes = [p for p in lines if p["type"] == "health_probe" and p["host"] == name]
        assert len(probes) == health["attempts"] and probes[-1]["final"] is True
        assert all(p["healthy"] is False for p in probes)
    # Each attempt is in the host's own output (its stored transcript).
    shown = run_patchtui(
        "history", "--db", db, "--run", str(summary["run_id"]), "--host", BROKEN[0], "--json"
    )
    stored = json_lines(shown.stdout)[1]
    assert stored["status"] == "failed" and stored["health"]["healthy"] is False  # type: ignore[index]
    transcript = str(stored["transcript"])
    assert "$ systemctl is-active app" in transcript
    assert "[patchtui] health attempt 1: unhealthy (exit 3: failed)" in transcript
    # Without --rollback-on-failure the broken hosts keep the new versions.
    after = _pending(inventory, db)
    assert all(after[name] != before[name] for name in BROKEN)


def test_rollback_on_failure_restores_the_unhealthy_hosts(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(6, extra=("--fault", FAULT))
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    before = _pending(inventory, db)

    lines = _patch(inventory, db, "--rollback-on-failure")

    summary = lines[-1]
    assert summary["halted"] is True and summary["failed"] == 2
    results = _results(lines)
    for name in BROKEN:
        line = results[name]
        assert line["result"] == "failed" and line["error_kind"] == "rolled-back"
        assert str(line["error"]).startswith("health-check: unhealthy after")
        rollback = line["rollback"]
        assert isinstance(rollback, dict)
        assert rollback["status"] == "restored" and rollback["verified"] is True
        restored = {c["name"]: c["after"] for c in rollback["restored"]}  # type: ignore[index,union-attr]
        changes = line["changes"]
        assert isinstance(changes, list)
        # Every version the run replaced is put back; what it newly installed (a Debian
        # host's new kernel image, before None) is left in place, as `rollback` does.
        replaced = {c["name"]: c["before"] for c in changes if c["before"] is not None}
        assert restored == replaced
    states = [line for line in lines if line["type"] == "host_state" and line["host"] == BROKEN[0]]
    assert [s["state"] for s in states].count("rolling-back") >= 1
    assert any(s["state"] == "health" for s in states)
    # A fresh scan through the CLI: the two hosts are back at their old versions, and the
    # halted hosts were never touched.
    assert _pending(inventory, db) == before
    # The store keeps the gate's result and the rollback with the host's result.
    shown = run_patchtui("history", "--db", db, "--run", str(summary["run_id"]), "--json")
    stored = {str(x["host"]): x for x in json_lines(shown.stdout) if x["type"] == "host_result"}
    assert stored[BROKEN[1]]["rollback"]["verified"] is True  # type: ignore[index]
    assert stored[BROKEN[1]]["health"]["healthy"] is False  # type: ignore[index]
    # Compliance does not count a rolled-back host as patched by this run.
    report = run_patchtui("compliance", "-i", inventory, "--db", db, "--json")
    hosts = {str(x.get("host")): x for x in json_lines(report.stdout) if x["type"] == "host"}
    assert all(hosts[name]["last_patch"] is None for name in BROKEN), report.stdout[-2000:]
    # ...and the application is healthy again there.
    check = run_patchtui(
        "run", "-i", inventory, "--limit", BROKEN[0], "--json", "systemctl is-active app"
    )
    assert '"active' in check.stdout, check.stdout + check.stderr


class _Health(http.server.BaseHTTPRequestHandler):
    """/NAME answers 503 until NAME was asked ``recovers_after`` times; /broken never 2xx."""

    asked: dict[str, int] = {}
    recovers_after = 2

    def do_GET(self) -> None:
        name = self.path.strip("/")
        self.asked[name] = self.asked.get(name, 0) + 1
        ok = name != "lab-ubu-0002" and self.asked[name] >= self.recovers_after
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(b"ok\n" if ok else b"starting\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    _Health.asked = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_health_url_is_retried_until_healthy(
    lab_process: Callable[..., LabProcess], tmp_path: Path, health_server: str
) -> None:
    lab = lab_process(6)
    result = run_patchtui(
        "patch", "-i", str(lab.inventory), "--db", str(tmp_path / "db.json"),
        "--limit", "lab-deb-0001,lab-ubu-0002", "--max-failures", "1", "--reboot", "never",
        "--health-url", health_server + "/{name}", "--health-interval", "0.2",
        "--health-timeout", "3", "--yes", "--json",
    )  # fmt: skip
    assert result.returncode == ExitCode.HOST_FAILURES, result.stdout[-3000:] + result.stderr
    results = _results(json_lines(result.stdout))
    healed = results["lab-deb-0001"]
    # --reboot never: a new kernel leaves the host ok-reboot-required.
    assert healed["result"] == "ok-reboot-required" and healed["health"] == {
        "healthy": True,
        "attempts": 2,
        "duration": healed["health"]["duration"],  # type: ignore[index]
        "probes": [
            {
                "kind": "url",
                "target": f"{health_server}/lab-deb-0001",
                "healthy": True,
                "detail": "HTTP 200 OK",
            }
        ],
    }
    sick = results["lab-ubu-0002"]
    assert sick["result"] == "failed" and sick["error_kind"] == "health-check"
    assert "url HTTP 503 Service Unavailable" in str(sick["error"])
    assert _Health.asked["lab-ubu-0002"] == sick["health"]["attempts"] >= 5  # type: ignore[index]


def test_rollback_on_failure_also_answers_a_failure_after_the_install(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    """No gate: a --post hook that fails after the install changed packages."""
    lab = lab_process(6)
    db = str(tmp_path / "db.json")
    inventory = str(lab.inventory)
    before = _pending(inventory, db)
    result = run_patchtui(
        "patch", "-i", inventory, "--db", db, "--limit", "lab-deb-0001", "--post", "false",
        "--rollback-on-failure", "--reboot", "never", "--yes", "--json",
    )  # fmt: skip
    assert result.returncode == ExitCode.HOST_FAILURES, result.stdout[-3000:] + result.stderr
    line = _results(json_lines(result.stdout))["lab-deb-0001"]
    assert line["result"] == "failed" and line["error_kind"] == "rolled-back"
    assert str(line["error"]).startswith("post-check: post command exited 1")
    assert line["rollback"]["verified"] is True and "health" not in line  # type: ignore[index]
    assert _pending(inventory, db)["lab-deb-0001"] == before["lab-deb-0001"]
