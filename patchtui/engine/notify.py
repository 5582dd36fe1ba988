"""Alerts: a JSON event POSTed to a webhook, or an email over SMTP, when a run ends or halts
and when compliance finds critical fixes missing past their grace period.

The events are built from the engine's own events (``RunHalted``, ``RunFinished``) and
from a compliance report, so their counts and outcome words are the ones every other
front end shows (``engine/outcome.py``). Sending happens on threads of its own with
bounded timeouts and one retry at most: a slow or dead receiver never holds up the run,
and a failed delivery never fails it or changes its exit code. What each delivery did is
kept (``Delivery``) for the caller to record with the run; a password never appears in
it, in a message or in the payload.

Targets:

- ``http://`` / ``https://`` URL: a JSON POST; its top-level ``text`` is one line
  (Slack and Teams incoming webhooks show it as the message);
- ``mailto:ADDR[,ADDR]``: an email through the SMTP server of config.toml's
  ``[notify.smtp]`` (never from the command line, so no password is in argv).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchtui import __version__, paths
from patchtui.engine.events import (
    Event,
    EventSink,
    HostFinished,
    RunFinished,
    RunHalted,
    RunStarted,
)
from patchtui.engine.outcome import FAILURE_RESULTS, describe_outcome, skipped_text
from patchtui.errors import ConfigError
from patchtui.textsafe import one_line

if TYPE_CHECKING:
    from patchtui.compliance.evaluate import ComplianceReport

RUN_END = "run-end"
HALT = "halt"
CRITICAL_MISSING = "critical-missing"
EVENTS = (RUN_END, HALT, CRITICAL_MISSING)

DEFAULT_TIMEOUT = 5.0
"""Seconds one delivery attempt may take (connect, send, answer)."""
MAX_TIMEOUT = 30.0
RETRY_PAUSE = 0.5
"""Before the one retry: enough for a receiver that dropped one connection."""
CRITICAL_SEVERITY = "critical"


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where one notification goes: a webhook URL or email addresses."""

    kind: str
    """webhook or email"""
    address: str
    """The URL, or the comma-separated addresses."""

    @property
    def label(self) -> str:
        """How the target is named in warnings and records: a webhook's path and query
        often *are* its secret (Slack, Teams), so only scheme, host and port are shown."""
        if self.kind == "email":
            return f"mailto:{self.address}"
        parts = urllib.parse.urlsplit(self.address)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}/…"


def parse_target(text: str, *, where: str = "--notify") -> Target:
    """A ``--notify`` value (or a config target): http(s) URL or mailto:; else ConfigError."""
    value = text.strip()
    scheme = value.split(":", 1)[0].lower() if ":" in value else ""
    if scheme == "mailto":
        addresses = [a.strip() for a in urllib.parse.unquote(value[7:]).split("?")[0].split(",")]
        good = [a for a in addresses if a]
        for address in good:
            _, parsed = parseaddr(address)
            if "@" not in parsed or parsed != address or any(c in address for c in "\r\n"):
                raise ConfigError(f"{where} {value!r}: not an email address: {address!r}")
        if not good:
            raise ConfigError(f"{where} {value!r}: mailto: names no address")
        return Target("email", ",".join(good))
    if scheme in ("http", "https"):
        try:
            parts = urllib.parse.urlsplit(value)
            hostname, _port = parts.hostname, parts.port  # each may raise ValueError
        except ValueError as error:
            # Not echoed whole: a webhook URL's path is its secret.
            raise ConfigError(f"{where}: not a usable {scheme} URL: {error}") from None
        if not hostname or any(c.isspace() or ord(c) < 32 for c in value):
            raise ConfigError(f"{where}: not a usable {scheme} URL (no host, or spaces in it)")
        return Target("webhook", value)
    raise ConfigError(
        f"{where}: expected an http:// or https:// webhook URL or mailto:ADDRESS, "
        f"got {(scheme + ':') if scheme else one_line(value)[:40]!r}"
    )


@dataclass(frozen=True)
class SmtpSettings:
    """config.toml ``[notify.smtp]``: the one place an SMTP server and its login come from."""

    host: str
    port: int | None = None
    """Default: 587 with STARTTLS, 465 with implicit TLS, 25 without TLS."""
    tls: str = "starttls"
    """starttls, ssl (implicit TLS) or none."""
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    password_env: str | None = None
    """Name of an environment variable holding the password (read when sending)."""
    sender: str | None = None
    cafile: Path | None = None
    """A CA bundle to trust instead of the system's (e.g. a private CA)."""

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"starttls": 587, "ssl": 465}.get(self.tls, 25)

    def resolved_password(self) -> str | None:
        if self.password_env:
            return os.environ.get(self.password_env) or self.password
        return self.password


@dataclass(frozen=True)
class NotifySettings:
    """Targets, which events go to them, and how to reach an SMTP server."""

    targets: tuple[Target, ...] = ()
    events: frozenset[str] = frozenset(EVENTS)
    smtp: SmtpSettings | None = None
    timeout: float = DEFAULT_TIMEOUT

    def wants(self, event: str) -> bool:
        return bool(self.targets) and event in self.events

    def check(self) -> None:
        """Refuse, before any work, a mailto: target with no SMTP server configured."""
        if self.smtp is None:
            for target in self.targets:
                if target.kind == "email":
                    raise ConfigError(
                        f"--notify {target.label}: no SMTP server configured "
                        "(set [notify.smtp] host in config.toml)"
                    )


def settings_for(
    configured: NotifySettings | None, cli_targets: Sequence[str] | None, *, disabled: bool = False
) -> NotifySettings:
    """``--notify`` targets replace config.toml's ``[notify] targets``; events, SMTP and
    timeout come from the config; ``--no-notify`` sends nothing."""
    base = configured or NotifySettings()
    if disabled:
        return dataclasses.replace(base, targets=())
    if cli_targets:
        targets = tuple(dict.fromkeys(parse_target(text) for text in cli_targets))
        base = dataclasses.replace(base, targets=targets)
    base.check()
    return base


# --- config.toml [notify] ------------------------------------------------------------------

_NOTIFY_KEYS = ("targets", "events", "timeout", "smtp")
_SMTP_KEYS = ("host", "port", "tls", "username", "password", "password_env", "from", "cafile")


def parse_notify_section(table: object, path: Path) -> NotifySettings:
    """Validate config.toml's ``[notify]`` table (and ``[notify.smtp]``)."""
    where = str(path)
    if not isinstance(table, dict):
        raise ConfigError("'notify' must be a table: [notify]", where=where)
    _known(table, _NOTIFY_KEYS, "notify", where)
    targets_value = table.get("targets", [])
    if not isinstance(targets_value, list) or not all(isinstance(t, str) for t in targets_value):
        raise ConfigError("notify.targets must be a list of URLs or mailto: strings", where=where)
    targets = tuple(
        dict.fromkeys(parse_target(t, where=f"{where}: notify.targets") for t in targets_value)
    )
    events_value = table.get("events", list(EVENTS))
    if (
        not isinstance(events_value, list)
        or not all(isinstance(e, str) for e in events_value)
        or not set(events_value) <= set(EVENTS)
    ):
        raise ConfigError(
            f"notify.events must be a list of {', '.join(EVENTS)}, got {events_value!r}",
            where=where,
        )
    timeout = table.get("timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise ConfigError(
            f"notify.timeout must be seconds, more than 0 and at most {MAX_TIMEOUT:g}, "
            f"got {timeout!r}",
            where=where,
        )
    smtp = _smtp(table["smtp"], path) if "smtp" in table else None
    settings = NotifySettings(
        targets=targets, events=frozenset(events_value), smtp=smtp, timeout=float(timeout)
    )
    try:
        settings.check()
    except ConfigError as error:
        raise ConfigError(error.message, where=where) from None
    return settings


def _known(table: Mapping[str, object], keys: Sequence[str], section: str, where: str) -> None:
    for key in table:
        if key not in keys:
            raise ConfigError(
                f"unknown key {section}.{key} (known: {', '.join(keys)})", where=where
            )


def _smtp(table: object, path: Path) -> SmtpSettings:
    where = str(path)
    if not isinstance(table, dict):
        raise ConfigError("'notify.smtp' must be a table: [notify.smtp]", where=where)
    _known(table, _SMTP_KEYS, "notify.smtp", where)

    def text(key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            # Never echo the value: it may be the password.
            raise ConfigError(f"notify.smtp.{key} must be a non-empty one-line string", where=where)
        return value if key == "password" else value.strip()

    host = text("host")
    if host is None:
        raise ConfigError("notify.smtp.host is required in [notify.smtp]", where=where)
    port = table.get("port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigError(f"notify.smtp.port must be 1..65535, got {port!r}", where=where)
    tls = text("tls") or "starttls"
    if tls not in ("starttls", "ssl", "none"):
        raise ConfigError(
            f"notify.smtp.tls must be starttls, ssl or none, got {tls!r}", where=where
        )
    sender = text("from")
    if sender is not None and "@" not in parseaddr(sender)[1]:
        raise ConfigError(f"notify.smtp.from is not an email address: {sender!r}", where=where)
    cafile = text("cafile")
    ca_path = None
    if cafile is not None:
        try:
            ca_path = paths.expand_user(cafile)
        except ValueError as error:
            raise ConfigError(f"notify.smtp.cafile {cafile!r}: {error}", where=where) from None
        # Relative to the config file, as defaults.policy is.
        ca_path = ca_path if ca_path.is_absolute() else (path.parent / ca_path).resolve()
    return SmtpSettings(
        host=host,
        port=port,
        tls=tls,
        username=text("username"),
        password=text("password"),
        password_env=text("password_env"),
        sender=sender,
        cafile=ca_path,
    )


# --- events --------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _controller() -> str:
    return socket.gethostname()


def _base(event: str, run_id: str | None, operation: str, at: float) -> dict[str, Any]:
    return {
        "event": event,
        "source": "patchtui",
        "version": __version__,
        "controller": _controller(),
        "at": _iso(at),
        "run_id": run_id,
        "operation": operation,
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _hosts_text(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit} more" if len(names) > limit else "")


def halt_event(halted: RunHalted, operation: str, failed: Sequence[str]) -> dict[str, Any]:
    """The rollout stopped itself (a canary or the failure threshold): sent at once."""
    text = (
        f"patchtui {operation} HALTED on {_controller()}: {halted.reason}; "
        f"{len(failed)} failed ({_hosts_text(failed)}), {len(halted.skipped)} hosts not started"
        f" | run {halted.run_id}"
    )
    return {
        "text": one_line(text),
        **_base(HALT, halted.run_id, operation, halted.at),
        "outcome": "halted",
        "halt_reason": halted.reason,
        "hosts_failed": list(failed),
        "hosts_skipped": list(halted.skipped),
    }


def run_end_event(finish: RunFinished, failed: Sequence[str]) -> dict[str, Any]:
    """A run ended: its outcome word and counts, as the summary line says them."""
    summary = finish.summary
    counts = {
        "hosts": summary.hosts,
        "ok": summary.ok,
        "failed": summary.failed,
        "unreachable": summary.unreachable,
        "interrupted": summary.interrupted,
        "skipped": summary.skipped,
        "skipped_reasons": dict(summary.skipped_reasons),
        "results": dict(summary.results),
        "pending": summary.pending,
        "security": summary.security,
        "reboot_required": summary.reboot_required,
    }
    parts = [_count(summary.hosts, "host"), f"{summary.ok} ok"]
    if failed:
        parts.append(f"not ok: {_hosts_text(failed)}")
    if skipped := skipped_text(summary):
        parts.append(skipped)
    text = (
        f"patchtui {finish.operation} {describe_outcome(finish.outcome, summary)} on "
        f"{_controller()}: " + ", ".join(parts) + f" | run {finish.run_id}"
    )
    return {
        "text": one_line(text),
        **_base(RUN_END, finish.run_id, finish.operation, finish.at),
        "outcome": finish.outcome,
        "counts": counts,
        "hosts_failed": list(failed),
        "halt_reason": summary.halt_reason,
        "dry_run": summary.dry_run,
        "duration": round(summary.duration, 1),
    }


def critical_missing_event(
    report: ComplianceReport, *, run_id: str | None = None, severity: str = CRITICAL_SEVERITY
) -> dict[str, Any] | None:
    """Hosts with a ``severity`` security fix missing past its grace period (a reason that
    counts, not waived); None when there are none."""
    hosts: list[dict[str, Any]] = []
    for host in report.hosts:
        overdue = {
            name
            for reason in host.active_reasons
            if reason.code == "security-pending"
            for name in reason.packages
        }
        fixes = [
            fix
            for fix in host.missing_security_fixes
            if fix.severity == severity and fix.package in overdue
        ]
        if fixes:
            hosts.append(
                {
                    "host": host.host,
                    "packages": sorted({fix.package for fix in fixes}),
                    "ids": sorted({i for fix in fixes for i in fix.ids}),
                    "oldest_missing_security_days": host.oldest_missing_security_days,
                }
            )
    if not hosts:
        return None
    packages = sorted({p for h in hosts for p in h["packages"]})
    text = (
        f"patchtui compliance: {severity} security fixes missing past grace on "
        f"{_count(len(hosts), 'host')} ({_hosts_text([h['host'] for h in hosts])}): "
        f"{_hosts_text(packages)}"
    )
    summary = report.summary
    return {
        "text": one_line(text),
        **_base(CRITICAL_MISSING, run_id, "compliance", report.generated_at),
        "outcome": "non-compliant",
        "severity": severity,
        "policy": report.policy.name,
        "counts": {
            key: summary.get(key) for key in ("hosts", "compliant", "non_compliant", "unknown")
        },
        "hosts_critical": hosts,
    }


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification: recorded with the run, shown as a warning if not ok."""

    target: str
    """``Target.label``: never a webhook's secret path, never a password."""
    event: str
    ok: bool
    attempts: int
    detail: str = ""
    """HTTP status or SMTP answer when ok; the error when not."""
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def failure_warnings(deliveries: Iterable[Delivery]) -> list[str]:
    """One line per target that failed (its events and last error): the run is unaffected."""
    failed: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        if not delivery.ok:
            failed.setdefault(delivery.target, []).append(delivery)
    return [
        one_line(
            f"warning: notification to {target} failed "
            f"({', '.join(d.event for d in items)}): {items[-1].detail}; "
            "the run is not affected"
        )
        for target, items in failed.items()
    ]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured; following it would re-send the event
    somewhere the user did not name (and as a GET)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Retryable(Exception):
    pass


def _post(url: str, body: bytes, timeout: float) -> str:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"patchtui/{__version__}",
        },
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)  # bounded: the answer is not used, only its status
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        message = f"HTTP {error.code} {error.reason}"
        error.close()
        # Server trouble and rate limits may pass; a 4xx will fail the same way again.
        if error.code >= 500 or error.code == 429:
            raise _Retryable(message) from None
        raise RuntimeError(message) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise RuntimeError(str(reason)) from None  # the same certificate next time
        raise _Retryable(str(reason) or type(error).__name__) from None


def _mail(target: Target, payload: Mapping[str, Any], smtp: SmtpSettings, timeout: float) -> str:
    message = EmailMessage()
    message["Subject"] = "[patchtui] " + str(payload.get("text", ""))[:200]
    message["From"] = smtp.sender or f"patchtui@{_controller()}"
    message["To"] = target.address
    lines = [str(payload.get("text", "")), ""]
    for key in ("event", "run_id", "operation", "outcome", "halt_reason", "controller", "at"):
        if payload.get(key) is not None:
            lines.append(f"{key}: {payload[key]}")
    lines += ["", "The event as JSON:", json.dumps(payload, indent=2, sort_keys=True)]
    message.set_content("\n".join(lines))
    context = ssl.create_default_context(cafile=str(smtp.cafile) if smtp.cafile else None)
    try:
        client: smtplib.SMTP
        if smtp.tls == "ssl":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.effective_port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=timeout)
        with client:
            if smtp.tls == "starttls":
                client.starttls(context=context)
            password = smtp.resolved_password()
            if smtp.username:
                if password is None:
                    raise RuntimeError(
                        "SMTP username set but no password"
                        + (f" (${smtp.password_env} is empty)" if smtp.password_env else "")
                    )
                client.login(smtp.username, password)
            refused = client.send_message(message)
        if refused:
            raise RuntimeError(f"refused recipients: {', '.join(sorted(refused))}")
        return "SMTP accepted"
    except smtplib.SMTPAuthenticationError as error:
        raise RuntimeError(f"SMTP login refused ({error.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as error:
        raise RuntimeError(f"refused recipients: {', '.join(sorted(error.recipients))}") from None
    except ssl.SSLCertVerificationError as error:
        raise RuntimeError(f"TLS: {error}") from None
    except smtplib.SMTPResponseException as error:
        raw = error.smtp_error
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if error.smtp_code >= 500:
            raise RuntimeError(f"SMTP {error.smtp_code} {text}") from None
        raise _Retryable(f"SMTP {error.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise _Retryable(f"{type(error).__name__}: {error}") from None


def deliver(
    target: Target,
    payload: Mapping[str, Any],
    settings: NotifySettings,
    *,
    pause: float = RETRY_PAUSE,
) -> Delivery:
    """Send one event to one target: one retry at most, each attempt bounded by the
    timeout. Never raises: the outcome is the returned ``Delivery``."""
    event = str(payload.get("event", ""))
    attempts = 0
    detail = ""
    for attempt in range(2):
        attempts = attempt + 1
        try:
            if target.kind == "email":
                if settings.smtp is None:
                    raise RuntimeError("no SMTP server configured ([notify.smtp] host)")
                detail = _mail(target, payload, settings.smtp, settings.timeout)
            else:
                body = json.dumps(payload, sort_keys=True).encode()
                detail = _post(target.address, body, settings.timeout)
            return Delivery(target.label, event, True, attempts, detail)
        except _Retryable as error:
            detail = str(error)
            if attempt == 0:
                time.sleep(pause)
        except Exception as error:  # a notifier must never take the run down with it
            detail = str(error) or type(error).__name__
            break
    return Delivery(target.label, event, False, attempts, one_line(detail)[:300])


class Notifier:
    """Turns engine events into notifications, sent on background threads.

    Use it as (or in front of) an event sink: ``RunHalted`` sends the halt event at
    once, ``RunFinished`` the run-end event. ``finish()`` waits (bounded) for what is
    in flight and returns every ``Delivery``; ``warn`` gets one line per failed one.
    """

    def __init__(
        self,
        settings: NotifySettings,
        *,
        warn: Callable[[str], None] | None = None,
        operation: str = "",
    ) -> None:
        self.settings = settings
        self.warn = warn
        self.operation = operation
        self.deliveries: list[Delivery] = []
        self._threads: list[tuple[threading.Thread, str, str]] = []
        self._lock = threading.Lock()
        self._not_ok: dict[str, None] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.targets)

    def sink(self, inner: EventSink) -> EventSink:
        """``inner`` with this notifier watching the same events."""
        if not self.enabled:
            return inner

        def both(event: Event) -> None:
            inner(event)
            self.observe(event)

        return both

    def observe(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.operation = event.operation
        elif isinstance(event, HostFinished):
            if (event.result or event.state.value) in FAILURE_RESULTS:
                self._not_ok[event.host] = None
        elif isinstance(event, RunHalted):
            if self.settings.wants(HALT):
                self.send(halt_event(event, self.operation or "patch", list(self._not_ok)))
        elif isinstance(event, RunFinished) and self.settings.wants(RUN_END):
            self.send(run_end_event(event, list(self._not_ok)))

    def send(self, payload: Mapping[str, Any]) -> None:
        """Deliver ``payload`` to every target, each on its own thread."""
        for target in self.settings.targets:
            thread = threading.Thread(
                target=self._deliver,
                args=(target, payload),
                name="patchtui-notify",
                daemon=True,  # never keeps the process alive past finish()'s bound
            )
            self._threads.append((thread, target.label, str(payload.get("event", ""))))
            thread.start()

    def _deliver(self, target: Target, payload: Mapping[str, Any]) -> None:
        delivery = deliver(target, payload, self.settings)
        with self._lock:
            self.deliveries.append(delivery)

    def finish(self) -> list[Delivery]:
        """Wait for deliveries in flight (at most two attempts' time), warn, return all."""
        deadline = time.monotonic() + 2 * self.settings.timeout + RETRY_PAUSE + 2.0
        for thread, _, _ in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            done = list(self.deliveries)
            late = [(label, event) for thread, label, event in self._threads if thread.is_alive()]
        for label, event in late:
            done.append(Delivery(label, event, False, 1, "no answer in time; not waited for"))
        if self.warn is not None:
            for line in failure_warnings(done):
                self.warn(line)
        return done


def deliveries_json(deliveries: Iterable[Delivery]) -> list[dict[str, object]]:
    return [delivery.to_json() for delivery in deliveries]
