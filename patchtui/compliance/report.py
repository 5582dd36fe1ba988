"""Render a ComplianceReport: table, JSON lines, CSV, Markdown, HTML, Prometheus textfile.

Host data is untrusted (package names, errors and OS names come from the hosts),
so every renderer escapes for its medium: control sequences are stripped for the
terminal, HTML-escaped for HTML and Markdown, formula-neutralised for CSV, and
label-escaped for Prometheus. The HTML report is one self-contained file (inline
CSS, no scripts, no external resources) an auditor can open offline.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import io
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from patchtui.compliance.evaluate import (
    COMPLIANT,
    EFFECT_NOTE,
    NON_COMPLIANT,
    ComplianceReport,
    HostCompliance,
    MissingFix,
    Reason,
)
from patchtui.compliance.policy import SEVERITIES, PolicyException, policy_to_dict
from patchtui.errors import ConfigError
from patchtui.textsafe import strip_control

FORMATS: tuple[str, ...] = ("table", "json", "csv", "markdown", "html", "prometheus")


def render(report: ComplianceReport, fmt: str) -> str:
    """The report as text in ``fmt`` (one of FORMATS); ConfigError for an unknown format."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ConfigError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    return renderer(report)


# --- shared helpers ------------------------------------------------------------------------------


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _reboot(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def _one_line(value: object) -> str:
    """Terminal-safe and on one line: a newline in a host name must not split a table row."""
    return strip_control(str(value)).replace("\n", " ")


NOT_SCANNED = "not scanned"
"""What a never-scanned host's missing count says: its counts are unknown, not 0."""


def missing_cell(host: HostCompliance) -> str:
    """The missing-updates cell of the human-readable reports and the console."""
    return NOT_SCANNED if host.last_scan is None else str(host.counts.missing)


def _security_cell(host: HostCompliance) -> str:
    if host.last_scan is None:
        return "-"
    return str(host.counts.missing_security) if host.security_supported else "n/a"


def _reason_text(reason: Reason) -> str:
    text = f"[{reason.code}] {reason.message}"
    if reason.waived_by is not None:
        text += f" (waived until {reason.waived_by.expires}: {reason.waived_by.reason})"
    elif reason.effect == EFFECT_NOTE:
        text += " (note)"
    return text


def _reason_codes(host: HostCompliance) -> str:
    active = [reason.code for reason in host.active_reasons]
    waived = [reason.code for reason in host.reasons if reason.waived_by is not None]
    parts = [", ".join(active)] if active else []
    if waived:
        parts.append("waived: " + ", ".join(waived))
    return "; ".join(parts) or "-"


def _exception_text(exception: PolicyException) -> str:
    scope = f"host {exception.host_glob or '*'}, package {exception.package_glob or '(all)'}"
    return f"{scope}: {exception.reason} (expires {exception.expires})"


def _summary_line(report: ComplianceReport) -> str:
    summary = report.summary
    return (
        f"{summary.get('hosts', 0)} hosts: {summary.get('compliant', 0)} compliant, "
        f"{summary.get('non_compliant', 0)} non-compliant, {summary.get('unknown', 0)} unknown"
    )


def _policy_rows(report: ComplianceReport) -> list[tuple[str, str]]:
    policy = policy_to_dict(report.policy)
    grace = policy["security_grace_days"]
    assert isinstance(grace, dict)

    def limit(value: object, unit: str) -> str:
        return "not enforced" if value is None else f"{value:g} {unit}"

    return [
        ("Policy", f"{policy['name']} ({policy['source']})"),
        (
            "Security updates pending at most",
            ", ".join(f"{severity} {days:g} d" for severity, days in grace.items()),
        ),
        ("Any update pending at most", limit(policy["any_update_grace_days"], "days")),
        ("Reboot pending at most", limit(policy["reboot_grace_days"], "days")),
        ("Last successful scan at most", limit(policy["scan_max_age_hours"], "hours old")),
    ]


# --- table ---------------------------------------------------------------------------------------

_TABLE_HEADER = ("HOST", "STATUS", "MISSING", "SECURITY", "OLDEST SEC (d)", "REBOOT", "LAST SCAN")


def _render_table(report: ComplianceReport) -> str:
    rows = [
        (
            _one_line(host.host),
            host.status,
            missing_cell(host),
            _security_cell(host),
            _days(host.oldest_missing_security_days),
            _reboot(host.reboot_required),
            _when(host.last_scan),
            _one_line(_reason_codes(host)),
        )
        for host in report.hosts
    ]
    header = (*_TABLE_HEADER, "REASONS")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.append("")
    lines.append(_summary_line(report))
    lines.append(
        f"policy {_one_line(report.policy.name)} ({_one_line(report.policy.source)}); "
        f"data from {_when(report.data_oldest_scan)} to {_when(report.data_newest_scan)}; "
        f"generated {_when(report.generated_at)}"
    )
    for exception in report.exceptions_expired:
        lines.append(f"expired exception: {_one_line(_exception_text(exception))}")
    lines += [f"note: {_one_line(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"


# --- JSON lines ----------------------------------------------------------------------------------


def _render_json(report: ComplianceReport) -> str:
    # The project's JSON-lines convention: one object per host, then a summary object.
    lines = [json.dumps({"type": "host", **host.to_dict()}) for host in report.hosts]
    lines.append(json.dumps({"type": "summary", **report.summary_dict()}))
    return "\n".join(lines) + "\n"


# --- CSV -----------------------------------------------------------------------------------------

_CSV_COLUMNS = (
    "host",
    "status",
    "missing",
    "missing_security",
    "installed",
    "installed_pending_reboot",
    "failed",
    "oldest_missing_security_days",
    "reboot_required",
    "security_supported",
    "metadata_stale",
    "last_scan",
    "last_patch",
    "reason_codes",
    "reasons",
    "exceptions_applied",
)


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas (=, +, -, @ lead): host names are not trusted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _render_csv(report: ComplianceReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for host in report.hosts:
        counts = host.counts
        writer.writerow(
            [
                _csv_safe(host.host),
                host.status,
                counts.missing,
                counts.missing_security,
                counts.installed,
                counts.installed_pending_reboot,
                counts.failed,
                ""
                if host.oldest_missing_security_days is None
                else host.oldest_missing_security_days,
                _reboot(host.reboot_required),
                "yes" if host.security_supported else "no",
                "yes" if host.metadata_stale else "no",
                _when(host.last_scan),
                _when(host.last_patch),
                " ".join(reason.code for reason in host.active_reasons),
                _csv_safe(" | ".join(_reason_text(reason) for reason in host.reasons)),
                _csv_safe(" | ".join(_exception_text(e) for e in host.exceptions_applied)),
            ]
        )
    return buffer.getvalue()


# --- Markdown ------------------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "#": "\\#",
        "\n": " ",
        "\r": " ",
    }
)


def _md(value: object) -> str:
    """Escape for a Markdown table cell; HTML-escaped too, as Markdown passes raw HTML through."""
    return html.escape(strip_control(str(value)), quote=False).translate(_MD_SPECIAL)


def _render_markdown(report: ComplianceReport) -> str:
    out = ["# Patch compliance report", ""]
    out += [
        f"- Generated: {_when(report.generated_at)}",
        f"- Data: last successful scans from {_when(report.data_oldest_scan)} "
        f"to {_when(report.data_newest_scan)}",
    ]
    if report.source:
        out.append(f"- Source: {_md(report.source)}")
    out += [f"- **Note:** {_md(note)}" for note in report.notes]
    out += ["", "## Summary", "", f"**{_md(_summary_line(report))}**", ""]
    out += ["## Policy", "", "| Rule | Value |", "| --- | --- |"]
    out += [f"| {_md(rule)} | {_md(value)} |" for rule, value in _policy_rows(report)]
    out += ["", "## Hosts", ""]
    out.append(
        "| Host | Status | Missing | Security | Oldest security fix (days) | Reboot | "
        "Last scan | Reasons |"
    )
    out.append("| --- | --- | ---: | ---: | ---: | --- | --- | --- |")
    for host in report.hosts:
        reasons = "<br>".join(_md(_reason_text(reason)) for reason in host.reasons) or "-"
        security = _security_cell(host)
        out.append(
            f"| {_md(host.host)} | {host.status} | {missing_cell(host)} | {security} | "
            f"{_days(host.oldest_missing_security_days)} | {_reboot(host.reboot_required)} | "
            f"{_when(host.last_scan)} | {reasons} |"
        )
    fixes = _fix_rows(report)
    if fixes:
        out += ["", "## Missing security fixes", ""]
        out += ["| Host | Package | Installed | Fixed in | Severity | CVE / advisory |"]
        out += ["| --- | --- | --- | --- | --- | --- |"]
        out += [
            f"| {_md(host)} | {_md(fix.package)} | {_md(fix.installed or '-')} | "
            f"{_md(fix.candidate or '-')} | {fix.severity} | {_md(', '.join(fix.ids) or '-')} |"
            for host, fix in fixes
        ]
    out += ["", "## Exceptions", ""]
    if not report.policy.exceptions:
        out.append("None.")
    else:
        out += ["| Host | Package | Reason | Expires | State | Hosts covered |"]
        out += ["| --- | --- | --- | --- | --- | ---: |"]
        for exception, state, covered in _exception_rows(report):
            out.append(
                f"| {_md(exception.host_glob or '*')} | {_md(exception.package_glob or '(all)')} "
                f"| {_md(exception.reason)} | {exception.expires} | {state} | {covered} |"
            )
    return "\n".join(out) + "\n"


def _fix_rows(report: ComplianceReport) -> list[tuple[str, MissingFix]]:
    """Every host's missing security fixes, most severe first, then by host and package."""
    rows = [(host.host, fix) for host in report.hosts for fix in host.missing_security_fixes]
    order = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(rows, key=lambda row: (order.get(row[1].severity, 99), row[0], row[1].package))


def _exception_rows(report: ComplianceReport) -> list[tuple[PolicyException, str, int]]:
    expired = set(report.exceptions_expired)
    covered: dict[PolicyException, int] = {}
    for host in report.hosts:
        for exception in host.exceptions_applied:
            covered[exception] = covered.get(exception, 0) + 1
    return [
        (exception, "expired" if exception in expired else "active", covered.get(exception, 0))
        for exception in report.policy.exceptions
    ]


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1b1b;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right}
.compliant{color:#176b2c;font-weight:600}.non-compliant{color:#b3261e;font-weight:600}
.unknown{color:#8a5a00;font-weight:600}ul{margin:0;padding-left:1.2em}
.waived{color:#555;font-style:italic}.note{color:#555}
.meta td:first-child{font-weight:600}
@media print{body{margin:0}}
"""


def _h(value: object) -> str:
    return html.escape(strip_control(str(value)), quote=True)


def _html_reasons(host: HostCompliance) -> str:
    if not host.reasons:
        return "-"
    items = []
    for reason in host.reasons:
        css = "waived" if reason.waived_by else ("note" if reason.effect == EFFECT_NOTE else "")
        attr = f' class="{css}"' if css else ""
        items.append(f"<li{attr}>{_h(_reason_text(reason))}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _render_html(report: ComplianceReport) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No scripts, styles or images from anywhere: the report is evidence, opened offline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>Patch compliance report {_h(_when(report.generated_at))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Patch compliance report</h1>",
        '<table class="meta">',
        f"<tr><td>Generated</td><td>{_h(_when(report.generated_at))}</td></tr>",
        f"<tr><td>Data (last successful scans)</td><td>{_h(_when(report.data_oldest_scan))} "
        f"to {_h(_when(report.data_newest_scan))}</td></tr>",
    ]
    if report.source:
        parts.append(f"<tr><td>Source</td><td>{_h(report.source)}</td></tr>")
    parts.append("</table>")
    parts += [f'<p class="note"><strong>Note:</strong> {_h(note)}</p>' for note in report.notes]
    summary = report.summary
    parts += [
        "<h2>Summary</h2>",
        "<table><tr><th>Hosts</th><th>Compliant</th><th>Non-compliant</th><th>Unknown</th>"
        "<th>Missing updates</th><th>Missing security updates</th><th>Reboot required</th></tr>",
        "<tr>"
        + "".join(
            f'<td class="n">{_h(summary.get(key, 0))}</td>'
            for key in (
                "hosts",
                "compliant",
                "non_compliant",
                "unknown",
                "missing",
                "missing_security",
                "reboot_required",
            )
        )
        + "</tr></table>",
    ]
    by_reason = summary.get("hosts_by_reason") or {}
    if by_reason:
        parts.append("<table><tr><th>Reason</th><th>Hosts</th></tr>")
        parts += [
            f'<tr><td>{_h(code)}</td><td class="n">{_h(count)}</td></tr>'
            for code, count in by_reason.items()
        ]
        parts.append("</table>")
    parts += ["<h2>Policy</h2>", '<table class="meta">']
    parts += [
        f"<tr><td>{_h(rule)}</td><td>{_h(value)}</td></tr>" for rule, value in _policy_rows(report)
    ]
    parts += ["</table>", "<h2>Hosts</h2>"]
    parts.append(
        "<table><tr><th>Host</th><th>OS</th><th>Status</th><th>Missing</th><th>Security</th>"
        "<th>Oldest security fix (days)</th><th>Installed</th><th>Installed, reboot pending</th>"
        "<th>Failed</th><th>Reboot</th><th>Last scan</th><th>Last patch</th><th>Reasons</th></tr>"
    )
    for host in report.hosts:
        counts = host.counts
        security = _security_cell(host)
        parts.append(
            f"<tr><td>{_h(host.host)}</td><td>{_h(host.os_name or '-')}</td>"
            f'<td class="{_h(host.status)}">{_h(host.status)}</td>'
            f'<td class="n">{_h(missing_cell(host))}</td><td class="n">{_h(security)}</td>'
            f'<td class="n">{_h(_days(host.oldest_missing_security_days))}</td>'
            f'<td class="n">{counts.installed}</td>'
            f'<td class="n">{counts.installed_pending_reboot}</td>'
            f'<td class="n">{counts.failed}</td><td>{_h(_reboot(host.reboot_required))}</td>'
            f"<td>{_h(_when(host.last_scan))}</td><td>{_h(_when(host.last_patch))}</td>"
            f"<td>{_html_reasons(host)}</td></tr>"
        )
    parts.append("</table>")
    fixes = _fix_rows(report)
    if fixes:
        parts += [
            "<h2>Missing security fixes</h2>",
            "<table><tr><th>Host</th><th>Package</th><th>Installed</th><th>Fixed in</th>"
            "<th>Severity</th><th>CVE / advisory</th></tr>",
        ]
        parts += [
            f"<tr><td>{_h(host)}</td><td>{_h(fix.package)}</td>"
            f"<td>{_h(fix.installed or '-')}</td><td>{_h(fix.candidate or '-')}</td>"
            f"<td>{_h(fix.severity)}</td><td>{_h(', '.join(fix.ids) or '-')}</td></tr>"
            for host, fix in fixes
        ]
        parts.append("</table>")
    parts.append("<h2>Exceptions</h2>")
    if not report.policy.exceptions:
        parts.append("<p>None.</p>")
    else:
        parts.append(
            "<table><tr><th>Host</th><th>Package</th><th>Reason</th><th>Expires</th>"
            "<th>State</th><th>Hosts covered</th><th>Defined at</th></tr>"
        )
        for exception, state, covered in _exception_rows(report):
            parts.append(
                f"<tr><td>{_h(exception.host_glob or '*')}</td>"
                f"<td>{_h(exception.package_glob or '(all)')}</td><td>{_h(exception.reason)}</td>"
                f"<td>{_h(exception.expires)}</td><td>{_h(state)}</td>"
                f'<td class="n">{covered}</td><td>{_h(exception.where or "-")}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --- Prometheus textfile -------------------------------------------------------------------------


def _label(value: object) -> str:
    """Escape a label value per the exposition format: backslash, double quote, newline."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _render_prometheus(report: ComplianceReport) -> str:
    metrics: dict[str, tuple[str, list[str]]] = {}

    def add(name: str, help_text: str, labels: Mapping[str, object], value: float) -> None:
        _, samples = metrics.setdefault(name, (help_text, []))
        label_text = ",".join(f'{key}="{_label(val)}"' for key, val in labels.items())
        samples.append(f"{name}{{{label_text}}} {_sample(value)}")

    for host in report.hosts:
        name = {"host": host.host}
        add(
            "patchtui_host_compliant",
            "1 if the host complies with the policy, 0 if non-compliant or unknown.",
            name,
            1 if host.status == COMPLIANT else 0,
        )
        for status in (COMPLIANT, NON_COMPLIANT, "unknown"):
            add(
                "patchtui_host_compliance_status",
                "Compliance status of the host: 1 for the current status, 0 for the others.",
                {**name, "status": status},
                1 if host.status == status else 0,
            )
        if host.last_scan is None:
            continue  # never scanned: no pending/reboot/age samples rather than false zeros
        for update_class, count in host.pending_by_class.items():
            add(
                "patchtui_host_pending_updates",
                "Pending updates by class (unclassified: the OS gives no security data).",
                {**name, "class": update_class},
                count,
            )
        if host.security_supported:
            for severity, count in host.pending_security_by_severity.items():
                add(
                    "patchtui_host_pending_security_updates",
                    "Pending security updates by severity.",
                    {**name, "severity": severity},
                    count,
                )
        if host.reboot_required is not None:  # unknown: no sample rather than a false 0
            add(
                "patchtui_host_reboot_required",
                "1 if the host needs a reboot to finish patching.",
                name,
                1 if host.reboot_required else 0,
            )
        if host.oldest_missing_security_days is not None:
            add(
                "patchtui_host_oldest_missing_security_seconds",
                "Age of the oldest missing security update since it was first seen.",
                name,
                round(host.oldest_missing_security_days * 86400),
            )
        # Both forms: "seconds since" is what dashboards want at a glance; the timestamp stays
        # right even if the file is not rewritten (time() - metric in PromQL).
        if host.seconds_since_scan is not None and host.last_scan is not None:
            add(
                "patchtui_host_seconds_since_last_scan",
                "Seconds since the last successful scan, when the file was written.",
                name,
                round(host.seconds_since_scan),
            )
            add(
                "patchtui_host_last_scan_timestamp_seconds",
                "Unix time of the last successful scan.",
                name,
                round(host.last_scan),
            )
        if host.seconds_since_patch is not None and host.last_patch is not None:
            add(
                "patchtui_host_seconds_since_last_patch",
                "Seconds since the last patch run that changed packages, at writing time.",
                name,
                round(host.seconds_since_patch),
            )
            add(
                "patchtui_host_last_patch_timestamp_seconds",
                "Unix time of the last patch run that changed packages.",
                name,
                round(host.last_patch),
            )
    summary = report.summary
    for status, key in (
        (COMPLIANT, "compliant"),
        (NON_COMPLIANT, "non_compliant"),
        ("unknown", "unknown"),
    ):
        add(
            "patchtui_compliance_hosts",
            "Hosts by compliance status.",
            {"status": status},
            int(summary.get(key, 0)),
        )
    add(
        "patchtui_compliance_report_timestamp_seconds",
        "Unix time the compliance report was generated.",
        {"policy": report.policy.name},
        round(report.generated_at),
    )
    lines: list[str] = []
    for metric, (help_text, samples) in metrics.items():
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} gauge")
        lines.extend(samples)
    return "\n".join(lines) + "\n"


_RENDERERS: dict[str, Callable[[ComplianceReport], str]] = {
    "table": _render_table,
    "json": _render_json,
    "csv": _render_csv,
    "markdown": _render_markdown,
    "html": _render_html,
    "prometheus": _render_prometheus,
}


# --- writing -------------------------------------------------------------------------------------


def write_atomically(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old file or the new one, never half.

    The temporary file lives in the same directory (os.replace is atomic only within
    one filesystem) and is fsynced before the rename; node_exporter's textfile
    collector reads ``*.prom`` only, so the ``.tmp`` name is never collected.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644  # readable by a collector running as another user, like a normal file
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            # By descriptor, not by name: the name could be swapped for a link meanwhile.
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform/filesystem.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
