"""The lab's ``systemctl is-active``: what a health check on a lab host sees."""

from __future__ import annotations

import pytest

from patchtui.errors import ConfigError
from patchtui.lab.fleet import build_fleet
from patchtui.lab.runner import assign_named_faults
from patchtui.lab.shell import execute
from patchtui.lab.sim.services import UNHEALTHY_AFTER_PATCH


def test_services_are_active_and_unknown_units_inactive() -> None:
    host = build_fleet(1, seed=1, faults="none")[0]  # lab-deb-0001, a web host
    result = execute(host, "systemctl is-active app nginx.service")
    assert (result.stdout, result.exit_status) == ("active\nactive\n", 0)
    unknown = execute(host, "systemctl is-active --quiet postgresql")
    assert (unknown.stdout, unknown.exit_status) == ("", 3)


def test_a_bad_update_fails_the_app_until_the_old_versions_are_back() -> None:
    host = build_fleet(1, seed=1, faults="none")[0]
    host.faults.add(UNHEALTHY_AFTER_PATCH)
    assert execute(host, "systemctl is-active app").exit_status == 0
    package = next(p for p in host.packages.values() if p.candidate() is not None)
    shipped = package.installed
    package.installed = package.available[-1].version  # what an upgrade leaves
    broken = execute(host, "sudo -n -u root -- sh -c 'systemctl is-active app ssh'")
    assert (broken.stdout, broken.exit_status) == ("failed\nactive\n", 3)
    package.installed = shipped  # what a rollback leaves
    assert execute(host, "systemctl is-active app").exit_status == 0


def test_lab_faults_by_name_are_checked() -> None:
    fleet = build_fleet(3, seed=1, faults="none")
    assign_named_faults(fleet, ["unhealthy-after-patch=lab-deb-0001, lab-rhel-0003"])
    assert [sorted(host.faults) for host in fleet] == [
        [UNHEALTHY_AFTER_PATCH],
        [],
        [UNHEALTHY_AFTER_PATCH],
    ]
    for spec, message in (
        ("unhealthy-after-patch", "--fault takes FAULT=HOST[,HOST...]"),
        ("melted=lab-deb-0001", "--fault 'melted': not a lab fault"),
        ("slow=lab-nope-9", "no lab host named 'lab-nope-9'"),
    ):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            assign_named_faults(fleet, [spec])
