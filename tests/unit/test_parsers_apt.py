"""apt parsers on real captured apt-get output (tests/data/apt)."""

from __future__ import annotations

from fixtures import captured

from patchtui.drivers.base import PendingUpdate
from patchtui.drivers.parsers.apt import (
    find_lock_error,
    is_security_origin,
    parse_simulation,
    parse_update,
)


def load(name: str) -> tuple[str, int]:
    text, status = captured(f"apt/{name}")
    return text, status or 0


def test_gpg_failure_with_exit_0_is_stale() -> None:
    text, status = load("update_gpg_nopubkey.txt")
    assert status == 0
    assert find_lock_error(text) is None
    outcome = parse_update(text, status)
    assert outcome.ok and outcome.stale
    assert len(outcome.warnings) == 5
    assert outcome.warnings[-1].startswith("W: Some index files failed to download")


def test_old_apt_e_lines_for_failed_fetch_are_stale_not_failed() -> None:
    text, status = load("update_failed_fetch_e.txt")
    assert status == 100
    outcome = parse_update(text, status)
    assert outcome.ok and outcome.stale
    assert outcome.error is None


def test_unsigned_repository_is_stale() -> None:
    text, status = load("update_unsigned.txt")
    outcome = parse_update(text, status)
    assert outcome.ok and outcome.stale
    assert any("is not signed" in line for line in outcome.warnings)


def test_clean_update_is_neither_stale_nor_failed() -> None:
    outcome = parse_update("Hit:1 http://deb.debian.org/debian bookworm InRelease\n", 0)
    assert outcome == type(outcome)(ok=True, stale=False, warnings=())


def test_other_errors_are_fatal() -> None:
    text = "E: Malformed entry 1 in list file /etc/apt/sources.list.d/x.list (Component)\n"
    outcome = parse_update(text, 100)
    assert not outcome.ok
    assert outcome.error == text.strip()


def test_lock_error_current_wording() -> None:
    text, status = load("lock_frontend.txt")
    assert status == 100
    assert find_lock_error(text) == (
        "E: Could not get lock /var/lib/dpkg/lock-frontend. "
        "It is held by process 2448 (unattended-upgr)"
    )


def test_lock_error_old_wording() -> None:
    text, _ = load("lock_frontend_old.txt")
    lock = find_lock_error(text)
    assert lock is not None and "Resource temporarily unavailable" in lock


def test_simulation_with_two_origins_is_security() -> None:
    text, _ = load("simulate_ubuntu2204_curl.txt")
    simulation = parse_simulation(text)
    assert simulation.pending == (
        PendingUpdate(
            name="libcurl4",
            installed="7.81.0-1ubuntu1.17",
            candidate="7.81.0-1ubuntu1.18",
            arch="amd64",
            repository="Ubuntu:22.04/jammy-security",
            security=True,
        ),
        PendingUpdate(
            name="curl",
            installed=None,
            candidate="7.81.0-1ubuntu1.18",
            arch="amd64",
            repository="Ubuntu:22.04/jammy-security",
            security=True,
        ),
    )
    assert simulation.not_upgraded == 22
    assert all(update.severity is None for update in simulation.pending)


def test_simulation_new_summary_wording_and_epoch() -> None:
    text, _ = load("simulate_ubuntu2204_git.txt")
    simulation = parse_simulation(text)
    assert simulation.not_upgraded == 200
    (git,) = simulation.pending
    assert (git.name, git.installed, git.candidate) == (
        "git",
        "1:2.34.1-1ubuntu1.10",
        "1:2.34.1-1ubuntu1.11",
    )
    assert git.security


def test_simulation_debian12() -> None:
    text, _ = load("simulate_debian12.txt")
    pending = parse_simulation(text).pending
    assert [(p.name, p.installed, p.candidate, p.security) for p in pending] == [
        ("libc6", "2.36-9+deb12u7", "2.36-9+deb12u10", False),
        ("openssl", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", True),
        ("linux-image-6.1.0-30-arm64", None, "6.1.124-1", False),
    ]
    assert pending[0].repository == "Debian:12.9/stable"
    assert pending[1].repository == "Debian-Security:12/stable-security"
    assert {p.arch for p in pending} == {"arm64"}


def test_kept_back_block() -> None:
    text, _ = load("upgrade_kept_back_jammy.txt")
    simulation = parse_simulation(text)
    assert simulation.kept_back == ("cloud-init", "libudev1", "sosreport", "udev")
    assert simulation.pending == ()


def test_removals_are_reported() -> None:
    simulation = parse_simulation(
        "Remv libssl3 [3.0.10-1]\nInst x [1] (2 Debian:12/stable [all])\n"
    )
    assert simulation.removals == ("libssl3",)
    assert simulation.pending[0].arch == "all"


def test_security_origins() -> None:
    assert is_security_origin("Debian-Security:12/stable-security")
    assert is_security_origin("Ubuntu:22.04/jammy-security")
    assert is_security_origin("UbuntuESM:jammy-infra-security")
    assert is_security_origin("Debian-Security:9/oldstable")
    assert not is_security_origin("Ubuntu:22.04/jammy-updates")
    assert not is_security_origin("Debian:12.9/stable")
