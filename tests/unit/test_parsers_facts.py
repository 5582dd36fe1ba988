"""parse_facts on facts-command outputs built around real /etc/os-release files."""

from __future__ import annotations

import pytest
from fixtures import captured

from patchtui.drivers.facts import FACTS_COMMAND
from patchtui.drivers.parsers.facts import (
    FactsParseError,
    detect_package_manager,
    parse_facts,
    parse_os_release,
)


def load(name: str) -> str:
    return captured(f"facts/{name}")[0]


def test_debian12() -> None:
    facts = parse_facts(load("debian12.txt"))
    assert facts.os_id == "debian"
    assert facts.os_version == "12"
    assert facts.os_name == "Debian GNU/Linux 12 (bookworm)"
    assert facts.os_like == ()
    assert facts.kernel == "6.1.0-18-amd64"
    assert facts.uptime_seconds == pytest.approx(86400.52)
    assert facts.boot_id == "0f3c9a8e-5b7d-4a59-9c1e-2f6d8a4b7c10"
    assert facts.hostname == "web-01"
    assert facts.package_manager == "apt"


def test_ubuntu2204() -> None:
    facts = parse_facts(load("ubuntu2204.txt"))
    assert (facts.os_id, facts.os_version, facts.os_like) == ("ubuntu", "22.04", ("debian",))
    assert facts.os_name == "Ubuntu 22.04.2 LTS"
    assert facts.package_manager == "apt"


def test_rocky_prefers_dnf_over_yum() -> None:
    facts = parse_facts(load("rocky86.txt"))
    assert facts.os_id == "rocky"
    assert facts.os_like == ("rhel", "centos", "fedora")
    assert facts.os_version == "8.6"
    assert facts.package_manager == "dnf"


def test_rhel_with_empty_boot_id_and_yum_listed_first() -> None:
    facts = parse_facts(load("rhel87.txt"))
    assert facts.os_id == "rhel"
    assert facts.os_name == "Red Hat Enterprise Linux 8.7 (Ootpa)"
    assert facts.boot_id is None
    assert facts.package_manager == "dnf"


def test_opensuse_leap() -> None:
    facts = parse_facts(load("opensuse_leap154.txt"))
    assert (facts.os_id, facts.os_version) == ("opensuse-leap", "15.4")
    assert facts.os_like == ("suse", "opensuse")
    assert facts.package_manager == "zypper"


def test_alpine_without_uptime_or_hostname() -> None:
    facts = parse_facts(load("alpine34.txt"))
    assert (facts.os_id, facts.os_version, facts.os_name) == (
        "alpine",
        "3.4.0",
        "Alpine Linux v3.4",
    )
    assert facts.kernel == "4.4.45-0-virthardened"
    assert facts.uptime_seconds is None
    assert facts.hostname is None
    assert facts.package_manager == "apk"


def test_yum_only_host_is_yum() -> None:
    assert detect_package_manager(("yum",), "centos", ("rhel", "fedora")) == "yum"


def test_os_family_beats_a_stray_binary() -> None:
    assert detect_package_manager(("yum", "apt-get"), "debian", ()) == "apt"
    assert detect_package_manager((), "debian", ()) is None


def test_os_release_quoting() -> None:
    values = parse_os_release('A="x \\"y\\""\nB=\'single\'\n# comment\nC=plain\n')
    assert values == {"A": 'x "y"', "B": "single", "C": "plain"}


def test_missing_os_release_uses_spec_defaults() -> None:
    facts = parse_facts("@@patchtui:kernel\n6.6.1\n@@patchtui:managers\n@@patchtui:end\n")
    assert (facts.os_id, facts.os_name, facts.package_manager) == ("linux", "Linux", None)


def test_not_facts_output() -> None:
    with pytest.raises(FactsParseError):
        parse_facts("sh: 1: syntax error\n")


def test_facts_command_marks_every_section() -> None:
    for section in ("os-release", "kernel", "uptime", "boot-id", "hostname", "managers", "end"):
        assert f"'@@patchtui:{section}'" in FACTS_COMMAND
