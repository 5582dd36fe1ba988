"""Doctor's judging of what it saw: columns, problems and fix hints, without hosts."""

from __future__ import annotations

import pytest

from patchtui.drivers.base import Facts
from patchtui.engine.doctor import MAX_CLOCK_SKEW, Observation, clock_skew, judge
from patchtui.inventory.model import Host
from patchtui.transport.base import TransportError

HOST = Host(name="web1", address="10.0.0.5", port=2222, user="ops", become=True)
FACTS = Facts(
    os_id="debian",
    os_version="12",
    os_name="Debian GNU/Linux 12",
    os_like=(),
    kernel="6.1.0-18-amd64",
    uptime_seconds=100.0,
    boot_id="b",
    hostname="web1",
    package_manager="apt",
)


def healthy(**changes: object) -> Observation:
    fields: dict[str, object] = {
        "login_user": "ops",
        "sudo_exit_status": 0,
        "facts": FACTS,
        "clock_skew": 0.4,
        "clock_uncertainty": 0.01,
    }
    fields.update(changes)
    return Observation(HOST, **fields)  # type: ignore[arg-type]


def test_a_healthy_host_has_nothing_to_fix() -> None:
    check = judge(healthy())
    assert check.ok and check.fix == ""
    assert (check.connect, check.host_key, check.sudo, check.package_manager, check.clock) == (
        "ok",
        "ok",
        "ok",
        "apt",
        "+0s",
    )


@pytest.mark.parametrize(
    ("kind", "connect", "host_key", "hint"),
    [
        ("unreachable", "unreachable", "?", "firewall"),
        ("timeout", "timeout", "?", "connect_timeout"),
        ("auth", "auth refused", "ok", "authorized_keys"),
        ("hostkey-unknown", "refused", "unknown", "ssh-keyscan -p 2222 10.0.0.5"),
        ("hostkey-changed", "refused", "CHANGED", "remove the old known_hosts line"),
        ("disconnected", "disconnected", "?", "MaxStartups"),
        ("error", "error", "?", "see the error"),
    ],
)
def test_connection_failures(kind: str, connect: str, host_key: str, hint: str) -> None:
    check = judge(Observation(HOST, connect_error=TransportError(kind, f"web1: {kind} detail")))
    assert check.problems == (kind,)
    assert (check.connect, check.host_key, check.sudo, check.clock) == (connect, host_key, "?", "?")
    assert hint in check.fix
    assert check.error == f"web1: {kind} detail"


def test_sudo_needing_a_password_is_flagged_with_the_way_out() -> None:
    check = judge(healthy(sudo_exit_status=1, sudo_error="sudo: a password is required"))
    assert check.sudo == "FAILS" and check.problems == ("sudo",)
    assert "a password is required" in check.fix and "-K" in check.fix


def test_root_login_needs_no_sudo_and_no_become_is_a_problem_for_others() -> None:
    assert judge(healthy(login_user="root", sudo_exit_status=None)).sudo == "root"
    plain = Observation(
        Host(name="h", address="10.0.0.6"), login_user="ops", facts=FACTS, clock_skew=0.0
    )
    check = judge(plain)
    assert check.sudo == "off" and check.problems == ("no-become",)


def test_package_manager_missing_or_unknown() -> None:
    none_found = FACTS.__class__(**{**FACTS.__dict__, "package_manager": None})
    check = judge(healthy(facts=none_found))
    assert check.package_manager == "none" and check.problems == ("no-package-manager",)
    unread = judge(healthy(facts=None, facts_error="could not read host facts: boom"))
    assert unread.package_manager == "?" and "boom" in unread.fix


def test_clock_skew_threshold_allows_for_the_round_trip() -> None:
    ahead = judge(healthy(clock_skew=MAX_CLOCK_SKEW + 30))
    assert ahead.problems == ("clock-skew",) and "90s ahead" in ahead.fix
    behind = judge(healthy(clock_skew=-3600.0))
    assert behind.clock == "-3600s" and "behind" in behind.fix
    # 61 s measured over a 4 s round trip may really be 59 s: not flagged.
    assert judge(healthy(clock_skew=61.0, clock_uncertainty=2.0)).ok


def test_clock_skew_from_date_output() -> None:
    skew, uncertainty = clock_skew("1700000000\n", 1700000000.0, 1700000000.2)
    assert skew == pytest.approx(0.4)
    assert uncertainty == pytest.approx(0.1)
    skew, _ = clock_skew("1700003600\n", 1700000000.0, 1700000000.0)
    assert skew == pytest.approx(3600.5)
    with pytest.raises(ValueError):
        clock_skew("date: invalid option\n", 0.0, 0.0)
    with pytest.raises(ValueError):
        clock_skew("", 0.0, 0.0)
