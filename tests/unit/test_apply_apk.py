"""apk patch interface: command building, world preservation, parsers, failure classes."""

from __future__ import annotations

import shlex

import pytest
from fixtures import captured

from patchtui.drivers.apk import (
    APK_PREFIX,
    ApkDriver,
    preserving_world,
    unwrap_preserving_world,
)
from patchtui.drivers.base import DriverError, PackageChange, PackageTarget, Selection
from patchtui.drivers.parsers import apk as parse

driver = ApkDriver()
TARGETS = [PackageTarget("openssl", "3.1.4-r5"), PackageTarget("py3-idna", "3.4-r4")]


def fixture(name: str) -> tuple[str, int]:
    text, status = captured(f"apk/{name}")
    return text, status or 0


def test_everything_is_a_plain_upgrade() -> None:
    assert driver.apply_command(TARGETS, Selection()) == "apk --no-interactive --wait 120 upgrade"
    assert driver.dry_run_command(TARGETS, Selection()) == "apk upgrade --simulate"


def test_selection_pins_exact_versions_and_keeps_world_unpinned() -> None:
    command = driver.apply_command(TARGETS, Selection(security_only=True))
    inner = unwrap_preserving_world(command)
    assert inner == f"{APK_PREFIX} add --upgrade openssl=3.1.4-r5 py3-idna=3.4-r4"
    assert command.startswith("cp -p /etc/apk/world /var/tmp/patchtui/apk-world.saved || exit 1; ")
    assert command.endswith(
        "; status=$?; cp -p /var/tmp/patchtui/apk-world.saved /etc/apk/world; exit $status"
    )
    assert unwrap_preserving_world(inner) is None
    assert preserving_world("x") != "x"


def test_dry_run_pins_without_touching_world() -> None:
    command = driver.dry_run_command(TARGETS[:1], Selection(packages=("openssl",)))
    assert command == "apk add --upgrade --simulate openssl=3.1.4-r5"


def test_downgrade() -> None:
    command = driver.downgrade_command([PackageTarget("openssl", "3.1.4-r4")])
    assert unwrap_preserving_world(command) == f"{APK_PREFIX} add openssl=3.1.4-r4"
    with pytest.raises(DriverError):
        driver.downgrade_command([])


def test_installed_versions_on_real_list_output() -> None:
    assert shlex.split(driver.installed_versions_command(["openssl", "py3-idna"])) == [
        "apk",
        "list",
        "-I",
        "openssl",
        "py3-idna",
    ]
    text, _ = fixture("list_installed_v.txt")
    installed = driver.parse_installed_versions(text)
    assert installed["mesa-gl"] == "22.2.5-r1"
    assert installed["samba-util-libs"] == "4.16.8-r0"
    assert installed["libsodium"] == "1.0.18-r2"
    assert len(installed) == 6


def test_split_name_version() -> None:
    assert parse.split_name_version("linux-lts-6.6.32-r0") == ("linux-lts", "6.6.32-r0")
    assert parse.split_name_version("py3-foo-1.2.3_rc1-r10") == ("py3-foo", "1.2.3_rc1-r10")
    assert parse.split_name_version("nodash") is None


def test_parse_dry_run_on_real_upgrade() -> None:
    text, _ = fixture("upgrade_solver_test.txt")
    changes = driver.parse_dry_run(text)
    assert changes
    pending = parse.parse_simulation(text).pending
    upgrades = [c for c in changes if c.before is not None and c.after is not None]
    assert {(c.name, c.before, c.after) for c in upgrades} <= {
        (u.name, u.installed, u.candidate) for u in pending
    }
    assert driver.parse_dry_run("(1/1) Purging libold (1.0-r0)\n") == [
        PackageChange("libold", "1.0-r0", None)
    ]


def test_classify_real_failures() -> None:
    text, status = fixture("add_breaks_world_pin.txt")
    assert driver.classify_failure(status, text.splitlines()) == (
        "unavailable",
        "version 20.12.1-r0 of nodejs is not available from the host's repositories",
    )
    text, status = fixture("add_no_such_package.txt")
    assert driver.classify_failure(status, text.splitlines()) == (
        "unavailable",
        "no such package: apt",
    )
    text, _ = fixture("lock_busy.txt")
    kind, message = driver.classify_failure(99, text.splitlines())
    assert kind == "locked" and "Unable to lock database" in message
    log = ["(1/2) Upgrading a (1-r0 -> 2-r0)", "ERROR: a-2-r0: trying to overwrite x owned by b-1."]
    assert driver.classify_failure(1, log) == (
        "failed",
        "exit status 1: ERROR: a-2-r0: trying to overwrite x owned by b-1.",
    )
