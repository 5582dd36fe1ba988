"""Alerts end to end: the real CLI, the lab over SSH, and real receivers on 127.0.0.1.

A threaded ``http.server`` takes the webhook POSTs; aiosmtpd takes the mail (plain and
STARTTLS with a login). A receiver that is not there never changes the run's exit code:
one warning line, and the failure is kept with the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from labhelp import LabProcess, json_lines, run_patchtui
from notifyhelp import closed_port, smtp_server, webhook_server

from patchtui.exit_codes import ExitCode

OSV = Path(__file__).resolve().parents[1] / "data" / "osv" / "ubuntu"


def write_config(text: str) -> Path:
    config_dir = Path(os.environ["PATCHTUI_CONFIG"])
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.toml"
    path.write_text(text)
    return path


def halting_patch(inventory: Path, db: Path, *extra: str) -> list[str]:
    """Every host's post hook fails; one failure is allowed, so the second halts the run."""
    return [
        "patch",
        "-i",
        str(inventory),
        "--db",
        str(db),
        "--batch",
        "1",
        "--max-failures",
        "1",
        "--post",
        "false",
        "--yes",
        "--json",
        *extra,
    ]


def history_run(db: Path, run_id: object) -> dict[str, object]:
    listed = json_lines(run_patchtui("history", "--db", str(db), "--json").stdout)
    return next(line for line in listed if line.get("run_id") == run_id)


def test_a_halting_patch_posts_the_halt_and_the_run_end_to_a_real_webhook(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(4, faults="none")
    db = tmp_path / "db.json"
    with webhook_server() as hook:
        result = run_patchtui(*halting_patch(lab.inventory, db, "--notify", hook.url))
        posts = hook.wait_for(2)

    assert result.returncode == ExitCode.HALTED, result.stderr
    assert "warning" not in result.stderr
    lines = json_lines(result.stdout)
    summary = lines[-1]
    assert summary["outcome"] == "halted" and summary["skipped"] == 2
    failed = sorted(str(line["host"]) for line in lines if line.get("result") == "failed")
    skipped = sorted(str(line["host"]) for line in lines if line.get("result") == "skipped")
    assert len(failed) == 2

    assert [post["event"] for post in posts] == ["halt", "run-end"]
    halt, end = posts
    assert halt["path"] == "/hooks/T000/SECRET-TOKEN"
    assert halt["run_id"] == end["run_id"] == summary["run_id"]
    assert halt["operation"] == "patch" and halt["outcome"] == "halted"
    assert halt["halt_reason"] == summary["halt_reason"]
    assert sorted(halt["hosts_failed"]) == failed
    assert sorted(halt["hosts_skipped"]) == skipped
    # One line that Slack/Teams show as the message, naming what happened.
    assert "\n" not in halt["text"] and "HALTED" in halt["text"]
    assert str(summary["halt_reason"]) in halt["text"]

    assert end["outcome"] == "halted"
    assert end["counts"]["hosts"] == 4 and end["counts"]["failed"] == 2
    assert end["counts"]["skipped"] == 2 and end["counts"]["skipped_reasons"] == {"halted": 2}
    assert sorted(end["hosts_failed"]) == failed
    assert "halted" in end["text"] and "2 skipped" in end["text"]
    assert all(h["Content-Type"].startswith("application/json") for h in hook.headers)

    run = history_run(db, summary["run_id"])
    notify = run["notify"]
    assert isinstance(notify, list)
    assert [(d["event"], d["ok"]) for d in notify] == [("halt", True), ("run-end", True)]
    # The webhook's path is its secret: it is never stored.
    stored = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert "SECRET-TOKEN" not in stored


def test_a_notifier_on_a_closed_port_warns_once_and_changes_nothing_else(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(3, faults="none")
    db = tmp_path / "db.json"
    inventory = str(lab.inventory)
    plain = run_patchtui("scan", "-i", inventory, "--db", str(db), "--json")
    dead = f"http://127.0.0.1:{closed_port()}/hook"
    notified = run_patchtui("scan", "-i", inventory, "--db", str(db), "--json", "--notify", dead)

    assert notified.returncode == plain.returncode == ExitCode.OK
    warnings = [line for line in notified.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, notified.stderr
    assert "notification to http://127.0.0.1:" in warnings[0] and "run-end" in warnings[0]
    assert "not affected" in warnings[0]
    summary = json_lines(notified.stdout)[-1]
    assert summary["outcome"] == "completed" and summary["ok"] == 3
    (delivery,) = history_run(db, summary["run_id"])["notify"]  # type: ignore[misc]
    assert delivery["ok"] is False and delivery["attempts"] == 2  # one retry, no more
    assert delivery["event"] == "run-end" and delivery["detail"]
    shown = run_patchtui("history", "--db", str(db), "--run", str(summary["run_id"])).stdout
    assert "alerts: run-end to http://127.0.0.1:" in shown and ": failed (" in shown

    # A halting patch with the dead notifier still halts with the halt's exit code.
    halted = run_patchtui(*halting_patch(lab.inventory, db, "--notify", dead))
    assert halted.returncode == ExitCode.HALTED
    assert len([line for line in halted.stderr.splitlines() if "warning" in line]) == 1


def _critical_osv(directory: Path) -> Path:
    """The real regreSSHion record, made critical (CVSS 9.8, Ubuntu priority critical)."""
    directory.mkdir()
    record = (OSV / "UBUNTU-CVE-2024-6387.json").read_text()
    record = record.replace("/AC:H/", "/AC:L/").replace(
        '"ubuntu_priority": "high"', '"ubuntu_priority": "critical"'
    )
    (directory / "UBUNTU-CVE-2024-6387.json").write_text(record)
    return directory


def test_compliance_with_critical_fixes_missing_posts_and_mails_the_hosts(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(8, faults="none")
    db = tmp_path / "db.json"
    inventory = str(lab.inventory)
    assert run_patchtui("scan", "-i", inventory, "--db", str(db)).returncode == 0
    compliance = ["compliance", "-i", inventory, "--db", str(db), "--json"]

    with smtp_server() as mailbox, webhook_server() as hook:
        write_config(
            "[notify]\n"
            f'targets = ["{hook.url}", "mailto:ops@example.test"]\n'
            f'[notify.smtp]\nhost = "127.0.0.1"\nport = {mailbox.port}\ntls = "none"\n'
            'from = "patchtui@example.test"\n'
        )
        # Non-compliant, but nothing critical is missing: no alert.
        before = run_patchtui(*compliance)
        assert before.returncode == ExitCode.NON_COMPLIANT, before.stderr
        assert hook.posts == [] and mailbox.messages == []

        synced = run_patchtui(
            "advisories", "sync", "--from", str(_critical_osv(tmp_path / "osv")), "--db", str(db)
        )
        assert synced.returncode == 0, synced.stderr
        after = run_patchtui(*compliance)
        posts = hook.wait_for(1)
        mails = mailbox.wait_for(1)

    assert after.returncode == ExitCode.NON_COMPLIANT, after.stderr
    assert "warning: notification" not in after.stderr
    report = [line for line in json_lines(after.stdout) if line["type"] == "host"]
    critical = sorted(
        str(host["host"])
        for host in report
        if any(fix["severity"] == "critical" for fix in host["missing_security_fixes"])  # type: ignore[union-attr]
    )
    assert critical, "the lab's Ubuntu 22.04 hosts miss the openssh fix"

    (post,) = posts
    assert post["event"] == "critical-missing" and post["outcome"] == "non-compliant"
    assert sorted(h["host"] for h in post["hosts_critical"]) == critical
    assert all("openssh-server" in h["packages"] for h in post["hosts_critical"])
    assert all("CVE-2024-6387" in h["ids"] for h in post["hosts_critical"])
    assert post["counts"]["hosts"] == 8
    assert "critical security fixes missing" in post["text"] and "\n" not in post["text"]

    (mail,) = mails
    assert mail["To"] == "ops@example.test" and mail["From"] == "patchtui@example.test"
    assert mail["Subject"] == "[patchtui] " + post["text"]
    body = mail.get_payload(decode=True).decode()
    assert "event: critical-missing" in body
    assert (
        json.loads(body.split("The event as JSON:", 1)[1])["hosts_critical"]
        == post["hosts_critical"]
    )

    # The check that alerted is kept in history, its deliveries with it.
    run = history_run(db, post["run_id"])
    assert run["operation"] == "compliance"
    assert sorted((d["target"], d["ok"]) for d in run["notify"]) == [  # type: ignore[union-attr]
        ("http://127.0.0.1:" + hook.url.split(":")[2].split("/")[0] + "/…", True),
        ("mailto:ops@example.test", True),
    ]


def test_mail_over_starttls_with_a_login_whose_password_is_never_written(
    lab_process: Callable[..., LabProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = lab_process(4, faults="none")
    db = tmp_path / "db.json"
    password = "s3cret-Pa55-in-env"
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    with smtp_server(tls_dir=tls_dir, user="patchtui", password=password) as mailbox:
        write_config(
            '[notify]\nevents = ["halt"]\n'
            f'[notify.smtp]\nhost = "127.0.0.1"\nport = {mailbox.port}\ntls = "starttls"\n'
            f'username = "patchtui"\npassword_env = "NOTIFY_TEST_SMTP_PASSWORD"\n'
            f'cafile = "{tls_dir / "smtp-cert.pem"}"\n'
        )
        monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", password)
        result = run_patchtui(
            *halting_patch(lab.inventory, db, "--notify", "mailto:oncall@example.test")
        )
        mails = mailbox.wait_for(1)

    assert result.returncode == ExitCode.HALTED, result.stderr
    assert "warning" not in result.stderr
    summary = json_lines(result.stdout)[-1]
    (mail,) = mails  # events = ["halt"]: the run's end is not mailed
    assert mailbox.tls_used == [True]
    assert mailbox.logins == [("patchtui", password)]
    assert mail["To"] == "oncall@example.test"
    assert mail["Subject"].startswith("[patchtui] patchtui patch HALTED")
    body = mail.get_payload(decode=True).decode()
    assert f"run_id: {summary['run_id']}" in body
    assert f"halt_reason: {summary['halt_reason']}" in body

    run = history_run(db, summary["run_id"])
    assert [(d["event"], d["ok"]) for d in run["notify"]] == [("halt", True)]  # type: ignore[union-attr]
    stored = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert password not in stored + result.stdout + result.stderr


def test_a_wrong_smtp_password_fails_the_mail_not_the_run(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(2, faults="none")
    db = tmp_path / "db.json"
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    with smtp_server(tls_dir=tls_dir, user="patchtui", password="right") as mailbox:
        write_config(
            f'[notify.smtp]\nhost = "127.0.0.1"\nport = {mailbox.port}\n'
            f'username = "patchtui"\npassword = "wrong-one"\n'
            f'cafile = "{tls_dir / "smtp-cert.pem"}"\n'
        )
        result = run_patchtui(
            "scan", "-i", str(lab.inventory), "--db", str(db), "--json",
            "--notify", "mailto:oncall@example.test",
        )  # fmt: skip
    assert result.returncode == ExitCode.OK
    (warning,) = [line for line in result.stderr.splitlines() if "warning" in line]
    assert "mailto:oncall@example.test" in warning and "login refused" in warning
    assert "wrong-one" not in result.stderr and mailbox.messages == []


def test_a_bad_notify_target_is_bad_input_before_any_work(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts:\n  box:\n    address: 127.0.0.1\n    port: 9\n")
    db = tmp_path / "db.json"
    for command in ("scan", "compliance", "patch", "run"):
        for target, expected in (
            ("ftp://files.example.test/x", "expected an http:// or https:// webhook URL"),
            ("mailto:ops@example.test", "no SMTP server configured"),
        ):
            words = {"run": ["--", "uptime"], "patch": ["--yes"]}.get(command, [])
            result = run_patchtui(
                command, "-i", str(inventory), "--db", str(db), "--notify", target, *words
            )
            assert result.returncode == ExitCode.BAD_INPUT, result.stderr
            (line,) = result.stderr.splitlines()
            assert line.startswith("patchtui: error: --notify") and expected in line
    assert not db.exists()  # refused before the database was opened
    write_config("[notify]\ntimeout = 99\n")
    broken = run_patchtui("scan", "-i", str(inventory), "--db", str(db))
    assert broken.returncode == ExitCode.BAD_INPUT
    assert "config.toml: notify.timeout must be seconds" in broken.stderr


def test_an_adhoc_run_posts_its_end_with_the_hosts_whose_command_failed(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(2, faults="none")
    db = tmp_path / "db.json"
    with webhook_server() as hook:
        result = run_patchtui(
            "run", "-i", str(lab.inventory), "--db", str(db), "--json",
            "--notify", hook.url, "--", "false",
        )  # fmt: skip
        (post,) = hook.wait_for(1)
    assert result.returncode == ExitCode.HOST_FAILURES, result.stderr
    summary = json_lines(result.stdout)[-1]
    assert post["event"] == "run-end" and post["operation"] == "run"
    assert post["run_id"] == summary["run_id"]
    assert post["outcome"] == "completed-with-failures" and post["counts"]["failed"] == 2
    assert sorted(post["hosts_failed"]) == sorted(
        str(line["host"]) for line in json_lines(result.stdout) if line["type"] == "host_result"
    )
