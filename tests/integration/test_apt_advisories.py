"""apt hosts' advisory and CVE ids, from the scan's changelog step to ``patchtui advisories``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from labhelp import LabProcess, json_lines, run_patchtui

from patchtui.store.db import Store

_APT_ADVISORY = re.compile(r"^(?:DSA|USN)-\d+-\d+$")


def test_apt_security_updates_are_listed_by_their_changelog_ids(
    lab_process: Callable[..., LabProcess], tmp_path: Path
) -> None:
    lab = lab_process(12, faults="none")
    db = tmp_path / "scan.json"
    scan = run_patchtui("scan", "-i", str(lab.inventory), "--json", "--db", str(db))
    assert scan.returncode == 0, scan.stderr

    with Store.open(db) as store:
        hosts = store.hosts()
    apt_security = [
        (str(host["name"]), update)
        for host in hosts
        if host.get("package_manager") == "apt" or _is_apt(host)
        for update in host.get("pending") or ()
        if update.get("security")
    ]
    assert apt_security, "the lab fleet has apt hosts with pending security updates"
    for _, update in apt_security:
        assert update.get("advisories"), update
        assert all(_APT_ADVISORY.match(ident) for ident in update["advisories"]), update
        assert update.get("cves"), update
    apt_hosts = {name for name, _ in apt_security}

    result = run_patchtui("advisories", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = [line for line in json_lines(result.stdout) if line["type"] == "advisory"]
    listed = {str(row["id"]): set(row["hosts"]) for row in rows}  # type: ignore[call-overload]
    expected_cves = {cve for _, update in apt_security for cve in update["cves"]}
    assert expected_cves <= set(listed)
    expected_advisories = {a for _, update in apt_security for a in update["advisories"]}
    assert expected_advisories <= set(listed)  # DSA/USN ids are listed beside the CVEs
    some = sorted(expected_advisories)[0]
    only = run_patchtui("advisories", "--json", "--db", str(db), "--cve", some)
    assert [row["id"] for row in json_lines(only.stdout) if row["type"] == "advisory"] == [some]
    # Every apt host with a security update is named under one of its CVEs, never
    # only under the "<origin>:<package>" placeholder used when ids are missing.
    for name in apt_hosts:
        assert any(name in hosts_ for ident, hosts_ in listed.items() if ident.startswith("CVE-"))
    assert not any(":" in ident for ident, hosts_ in listed.items() if hosts_ & apt_hosts)


def _is_apt(host: dict[str, object]) -> bool:
    facts = host.get("facts")
    return isinstance(facts, dict) and facts.get("package_manager") == "apt"
