"""Alerts without SSH: targets, config.toml [notify], the events' shape, and deliveries to
real sockets on 127.0.0.1 (a closed port, a server answering 4xx and 5xx)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from notifyhelp import closed_port, smtp_server, webhook_server

from patchtui.compliance.evaluate import evaluate_fleet
from patchtui.compliance.policy import DEFAULT_POLICY, Policy, PolicyException
from patchtui.config import load_config
from patchtui.engine.events import HostFinished, HostState, RunFinished, RunHalted, RunSummary
from patchtui.engine.notify import (
    EVENTS,
    Notifier,
    NotifySettings,
    SmtpSettings,
    Target,
    critical_missing_event,
    deliver,
    failure_warnings,
    halt_event,
    parse_target,
    run_end_event,
    settings_for,
)
from patchtui.errors import ConfigError

NOW = 1_800_000_000.0


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- targets -------------------------------------------------------------------------------


def test_targets_are_webhooks_or_mail_and_a_webhook_is_named_without_its_secret() -> None:
    hook = parse_target("https://user:pw@hooks.example.test:8443/services/T0/B0/SECRET?x=1")
    assert hook.kind == "webhook"
    assert hook.label == "https://hooks.example.test:8443/…"
    mail = parse_target("mailto:ops@example.test,oncall@example.test")
    assert mail == Target("email", "ops@example.test,oncall@example.test")
    assert mail.label == "mailto:ops@example.test,oncall@example.test"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ftp://example.test/x", "expected an http:// or https:// webhook URL or mailto:"),
        ("hooks.example.test/x", "expected an http:// or https://"),
        ("http:///path-only", "no host"),
        ("http://[::1/x", "not a usable http URL"),
        ("http://example.test:99999/x", "not a usable http URL"),
        ("mailto:", "names no address"),
        ("mailto:not-an-address", "not an email address"),
    ],
)
def test_bad_targets_are_one_line_config_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"^--notify") as caught:
        parse_target(text)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_command_line_targets_replace_the_configured_ones_and_no_notify_sends_nothing() -> None:
    configured = NotifySettings(targets=(parse_target("http://a.example.test/x"),))
    assert settings_for(configured, None) == configured
    chosen = settings_for(configured, ["http://b.example.test/y", "http://b.example.test/y"])
    assert [t.label for t in chosen.targets] == ["http://b.example.test/…"]  # deduplicated
    assert settings_for(configured, ["http://b.example.test/y"], disabled=True).targets == ()
    with pytest.raises(ConfigError, match=r"no SMTP server configured.*\[notify.smtp\]"):
        settings_for(configured, ["mailto:ops@example.test"])


# --- config.toml [notify] ------------------------------------------------------------------


def test_the_notify_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("")
    config = load_config(
        write(
            tmp_path / "config.toml",
            '[defaults]\nconcurrency = 3\n[notify]\ntargets = ["https://h.example.test/x",'
            ' "mailto:ops@example.test"]\nevents = ["halt"]\ntimeout = 2.5\n'
            '[notify.smtp]\nhost = "smtp.example.test"\ntls = "ssl"\nusername = "u"\n'
            'password_env = "SMTP_PW"\nfrom = "p@example.test"\ncafile = "ca.pem"\n',
        )
    )
    notify = config.notify
    assert notify is not None and config.concurrency == 3
    assert [t.kind for t in notify.targets] == ["webhook", "email"]
    assert notify.events == {"halt"} and notify.timeout == 2.5
    assert notify.wants("halt") and not notify.wants("run-end")
    smtp = notify.smtp
    assert smtp is not None and smtp.effective_port == 465 and smtp.sender == "p@example.test"
    assert smtp.cafile == tmp_path / "ca.pem"
    assert load_config(write(tmp_path / "plain.toml", "[defaults]\n")).notify is None
    assert NotifySettings().events == frozenset(EVENTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[notify]\nurl = 'x'\n", "unknown key notify.url"),
        ("[notify]\ntargets = 'http://x.test'\n", "notify.targets must be a list"),
        ("[notify]\ntargets = ['gopher://x.test']\n", "notify.targets: expected an http://"),
        ("[notify]\nevents = ['end']\n", "notify.events must be a list of run-end, halt"),
        ("[notify]\ntimeout = 0\n", "notify.timeout must be seconds"),
        ("[notify]\ntimeout = 300\n", "at most 30"),
        ("[notify]\ntargets = ['mailto:a@example.test']\n", "no SMTP server configured"),
        ("[notify.smtp]\nport = 25\n", "notify.smtp.host is required"),
        ("[notify.smtp]\nhost = 'h'\ntls = 'yes'\n", "notify.smtp.tls must be starttls, ssl"),
        ("[notify.smtp]\nhost = 'h'\nport = 0\n", "notify.smtp.port must be 1..65535"),
        ("[notify.smtp]\nhost = 'h'\nuser = 'u'\n", "unknown key notify.smtp.user"),
        ("[notify.smtp]\nhost = 'h'\nfrom = 'nobody'\n", "notify.smtp.from is not an email"),
        ("[notify.smtp]\nhost = 'h'\npassword = ''\n", "notify.smtp.password must be"),
        ("[notify.smtp]\nhost = 'h'\ncafile = '~nosuchuser9/ca'\n", "~nosuchuser9: no such user"),
        ("[notfy]\n", "unknown section [notfy] (known: [defaults], [notify])"),
    ],
)
def test_notify_mistakes_are_one_line_errors_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_bad_password_value_is_never_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml", "[notify.smtp]\nhost = 'h'\npassword = \"a\\nb-SECRET\"\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in repr(SmtpSettings(host="h", password="SECRET"))


def test_the_password_comes_from_the_named_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp = SmtpSettings(host="h", password="fallback", password_env="NOTIFY_UNIT_PW")
    monkeypatch.setenv("NOTIFY_UNIT_PW", "from-env")
    assert smtp.resolved_password() == "from-env"
    monkeypatch.delenv("NOTIFY_UNIT_PW")
    assert smtp.resolved_password() == "fallback"


# --- events --------------------------------------------------------------------------------


def _summary(**counts: object) -> RunSummary:
    base: dict[str, object] = dict.fromkeys(
        (
            "ok",
            "failed",
            "unreachable",
            "interrupted",
            "skipped",
            "pending",
            "security",
            "reboot_required",
            "stale",
        ),
        0,
    )
    base.update(duration=3.25)
    base.update(counts)
    return RunSummary(**base)  # type: ignore[arg-type]


def test_the_run_end_event_carries_outcome_counts_and_failed_hosts() -> None:
    summary = _summary(
        hosts=5,
        ok=2,
        failed=1,
        skipped=2,
        results={"ok": 2, "failed": 1, "skipped": 2},
        skipped_reasons={"halted": 2},
        halted=True,
        halt_reason="failure threshold reached: 1 failed, 0 allowed",
    )
    finish = RunFinished(run_id="R1", operation="patch", outcome="halted", summary=summary, at=NOW)
    event = run_end_event(finish, ["web3"])
    assert event["event"] == "run-end" and event["run_id"] == "R1"
    assert event["outcome"] == "halted" and event["operation"] == "patch"
    assert event["counts"]["skipped"] == 2 and event["counts"]["skipped_reasons"] == {"halted": 2}
    assert event["counts"]["results"] == {"ok": 2, "failed": 1, "skipped": 2}
    assert event["hosts_failed"] == ["web3"] and event["halt_reason"].startswith("failure")
    assert event["at"] == "2027-01-15T08:00:00+00:00" and event["duration"] == 3.2
    text = event["text"]
    assert text.startswith("patchtui patch halted on ") and "5 hosts, 2 ok" in text
    assert "not ok: web3" in text and "2 skipped (2 halted)" in text and text.endswith("run R1")
    json.dumps(event)  # JSON-safe as it is


def test_the_halt_event_names_the_reason_the_failed_and_the_untouched_hosts() -> None:
    halted = RunHalted(run_id="R2", reason="canary failed", skipped=("b", "c"), at=NOW)
    event = halt_event(halted, "reboot", ["a"])
    assert (event["event"], event["operation"], event["outcome"]) == ("halt", "reboot", "halted")
    assert event["hosts_failed"] == ["a"] and event["hosts_skipped"] == ["b", "c"]
    assert "HALTED" in event["text"] and "canary failed" in event["text"]
    assert "2 hosts not started" in event["text"]


def test_the_notifier_sends_halt_at_once_and_the_end_with_the_failed_hosts() -> None:
    seen: list[object] = []
    with webhook_server() as hook:
        notifier = Notifier(NotifySettings(targets=(parse_target(hook.url),)))
        sink = notifier.sink(seen.append)
        sink(HostFinished(run_id="R", host="a", state=HostState.FAILED, result="partial"))
        sink(HostFinished(run_id="R", host="b", state=HostState.OK, result="ok"))
        sink(RunHalted(run_id="R", reason="threshold", skipped=("c",)))
        assert hook.wait_for(1)[0]["event"] == "halt"  # before the run has finished
        summary = _summary(hosts=3, ok=1, failed=1, skipped=1)
        sink(RunFinished(run_id="R", operation="patch", outcome="halted", summary=summary))
        deliveries = notifier.finish()
    assert len(seen) == 4  # the front end still gets every event
    assert sorted((d.event, d.ok, d.detail) for d in deliveries) == [
        ("halt", True, "HTTP 200"),
        ("run-end", True, "HTTP 200"),
    ]
    assert [post["hosts_failed"] for post in hook.posts] == [["a"], ["a"]]


def _state(name: str, severity: str, *, age_days: float = 30) -> dict[str, object]:
    return {
        "name": name,
        "last_scan": NOW,
        "security_supported": True,
        "pending": [
            {
                "name": "openssl",
                "security": True,
                "severity": severity,
                "first_seen": NOW - age_days * 86400,
                "cves": ["CVE-2099-0001"],
                "candidate": "3.0.2",
            }
        ],
    }


def test_critical_missing_counts_critical_fixes_past_grace_and_not_waived() -> None:
    report = evaluate_fleet(
        [_state("crit", "critical"), _state("imp", "important"), _state("waived", "critical")],
        Policy(
            exceptions=(
                PolicyException(
                    host_glob="waived",
                    package_glob="*",
                    reason="vendor fix pending",
                    expires=dt.date(2099, 1, 1),
                ),
            )
        ),
        NOW,
    )
    event = critical_missing_event(report, run_id="C1")
    assert event is not None and event["event"] == "critical-missing" and event["run_id"] == "C1"
    assert [h["host"] for h in event["hosts_critical"]] == ["crit"]
    assert event["hosts_critical"][0]["packages"] == ["openssl"]
    assert event["hosts_critical"][0]["ids"] == ["CVE-2099-0001"]
    assert event["counts"]["hosts"] == 3
    assert "1 host (crit): openssl" in event["text"]
    clean = evaluate_fleet([_state("imp", "important")], DEFAULT_POLICY, NOW)
    assert critical_missing_event(clean) is None


# --- deliveries ----------------------------------------------------------------------------


def test_a_closed_port_is_tried_twice_and_reported_not_raised() -> None:
    settings = NotifySettings(targets=(parse_target(f"http://127.0.0.1:{closed_port()}/h"),))
    delivery = deliver(settings.targets[0], {"event": "halt", "text": "x"}, settings, pause=0)
    assert (delivery.ok, delivery.attempts, delivery.event) == (False, 2, "halt")
    assert "refused" in delivery.detail.lower()
    (line,) = failure_warnings([delivery, delivery])  # one line per target
    assert line.startswith("warning: notification to http://127.0.0.1:")
    assert "(halt, halt)" in line and "not affected" in line


@pytest.mark.parametrize(("status", "attempts"), [(404, 1), (503, 2), (429, 2)])
def test_a_client_error_is_not_retried_a_server_error_once(status: int, attempts: int) -> None:
    with webhook_server(status=status) as hook:
        settings = NotifySettings(targets=(parse_target(hook.url),), timeout=2)
        delivery = deliver(settings.targets[0], {"event": "run-end"}, settings, pause=0)
        assert len(hook.posts) == attempts
    assert (delivery.ok, delivery.attempts) == (False, attempts)
    assert delivery.detail.startswith(f"HTTP {status}")


def test_a_mail_target_without_a_server_fails_the_delivery_not_the_caller() -> None:
    settings = NotifySettings(targets=(parse_target("mailto:ops@example.test"),))
    delivery = deliver(settings.targets[0], {"event": "halt"}, settings, pause=0)
    assert not delivery.ok and "no SMTP server" in delivery.detail


def test_starttls_against_an_untrusted_certificate_fails_once_and_sends_nothing(
    tmp_path: Path,
) -> None:
    with smtp_server(tls_dir=tmp_path) as mailbox:
        untrusted = NotifySettings(
            targets=(parse_target("mailto:ops@example.test"),),
            smtp=SmtpSettings(host="127.0.0.1", port=mailbox.port),  # system CAs only
            timeout=3,
        )
        delivery = deliver(untrusted.targets[0], {"event": "halt", "text": "t"}, untrusted)
        trusted = NotifySettings(
            targets=untrusted.targets,
            smtp=SmtpSettings(
                host="127.0.0.1", port=mailbox.port, cafile=tmp_path / "smtp-cert.pem"
            ),
        )
        sent = deliver(trusted.targets[0], {"event": "halt", "text": "t"}, trusted)
        mails = mailbox.wait_for(1)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.detail.startswith("TLS:") and "certificate verify failed" in delivery.detail
    assert (sent.ok, sent.attempts, sent.detail) == (True, 1, "SMTP accepted")
    assert len(mails) == 1 and mailbox.tls_used == [True]
    assert mails[0]["Subject"] == "[patchtui] t"
