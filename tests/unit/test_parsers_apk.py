"""apk parsers on real captured apk output (tests/data/apk)."""

from __future__ import annotations

from fixtures import captured

from patchtui.drivers.base import PendingUpdate
from patchtui.drivers.parsers.apk import (
    find_lock_error,
    kernel_release_of_package,
    parse_kernel_check,
    parse_simulation,
    parse_update,
)


def load(name: str) -> tuple[str, int]:
    text, status = captured(f"apk/{name}")
    return text, status or 0


def test_update_with_failed_repositories_is_stale() -> None:
    text, status = load("update_errors_v3.11.txt")
    assert status == 2
    outcome = parse_update(text, status)
    assert outcome.ok and outcome.stale
    assert len(outcome.warnings) == 4


def test_update_untrusted_signature_new_summary_is_stale() -> None:
    text, status = load("update_untrusted_v3.22.txt")
    outcome = parse_update(text, status)
    assert outcome.ok and outcome.stale
    assert outcome.warnings[0].endswith("UNTRUSTED signature")


def test_update_ok() -> None:
    outcome = parse_update("fetch x\nOK: 23662 distinct packages available\n", 0)
    assert outcome.ok and not outcome.stale and outcome.warnings == ()


def test_busy_lock_is_locked() -> None:
    text, _ = load("lock_busy.txt")
    assert find_lock_error(text) == (
        "ERROR: Unable to lock database: Resource temporarily unavailable"
    )
    assert not parse_update(text, 99).ok


def test_permission_denied_is_not_a_busy_lock() -> None:
    text, _ = load("lock_permission_denied.txt")
    assert find_lock_error(text) is None
    outcome = parse_update(text, 99)
    assert not outcome.ok
    assert outcome.error == "ERROR: Unable to lock database: Permission denied"


def test_simulation_from_apk_tools_solver_test() -> None:
    text, _ = load("upgrade_solver_test.txt")
    simulation = parse_simulation(text)
    assert simulation.pending == (
        PendingUpdate(name="libnew", installed=None, candidate="1"),
        PendingUpdate(name="app", installed="1", candidate="2"),
    )
    assert simulation.removals == ("libold",)


def test_simulation_real_upgrade_excerpt() -> None:
    text, _ = load("upgrade_ish_v3.13.txt")
    simulation = parse_simulation(text)
    assert len(simulation.pending) == 11
    assert simulation.pending[0] == PendingUpdate(
        name="mobile-broadband-provider-info", installed="20190618-r0", candidate="20201225-r0"
    )
    assert simulation.pending[-1] == PendingUpdate(
        name="gtk+2.0", installed="2.24.32-r1", candidate="2.24.33-r0"
    )
    assert simulation.removals == ("dhcpcd",)
    assert not any(update.security for update in simulation.pending)


def test_self_upgrade_header_is_ignored() -> None:
    text, _ = load("selfupgrade_solver_test.txt")
    names = [update.name for update in parse_simulation(text).pending]
    assert names == ["libcrypto", "apk-tools"]


def test_kernel_release_mapping() -> None:
    assert kernel_release_of_package("linux-lts-6.6.32-r0") == "6.6.32-0-lts"
    assert kernel_release_of_package("linux-virt-6.6.31-r1") == "6.6.31-1-virt"
    assert kernel_release_of_package("linux-firmware-20240513-r0") is None


def test_kernel_check() -> None:
    assert parse_kernel_check("6.6.31-0-lts\nlinux-lts-6.6.32-r0\n") is True
    assert parse_kernel_check("6.6.32-0-lts\nlinux-lts-6.6.32-r0\n") is False
    # Two flavours installed: only the running one counts.
    assert parse_kernel_check("6.6.32-0-virt\nlinux-lts-6.6.40-r0\nlinux-virt-6.6.32-r0\n") is False
    # A container: no kernel package at all.
    assert parse_kernel_check("6.8.0-45-generic\n") is None
    assert parse_kernel_check("") is None
