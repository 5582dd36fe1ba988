"""OSV records -> advisories -> which pending update fixes what, on real records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from osvrecords import ALPINE_RECORD, DEBIAN_RECORD

from patchtui.advisories.osv import (
    AdvisoryIndex,
    RecordError,
    annotate_states,
    cvss3_base_score,
    host_ecosystems,
    parse_record,
    severity_choice,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "osv"
JAMMY = host_ecosystems("ubuntu", "22.04")


def _load(relative: str) -> Any:
    return json.loads((DATA / relative).read_text(encoding="utf-8"))


def _index(*files: str) -> AdvisoryIndex:
    return AdvisoryIndex(parse_record(_load(name)) for name in files)


def test_ubuntu_record_parses_into_ids_cves_priority_and_score() -> None:
    advisory = parse_record(_load("ubuntu/UBUNTU-CVE-2024-6387.json"))
    assert advisory.id == "UBUNTU-CVE-2024-6387"
    assert advisory.cves == ("CVE-2024-6387",)
    assert advisory.ids == ("UBUNTU-CVE-2024-6387", "USN-6859-1")
    assert advisory.published == "2024-07-01T00:00:00Z"
    # NVD's base score for this vector is 8.1.
    assert advisory.cvss_score == 8.1
    jammy = [a for a in advisory.affected if a.ecosystem == "Ubuntu:22.04:LTS"]
    assert [(a.package, a.ranges, a.word) for a in jammy] == [
        ("openssh", ((None, "1:8.9p1-3ubuntu0.10"),), "high")
    ]
    assert ("openssh-server", "1:8.9p1-3ubuntu0.10") in jammy[0].binaries


def test_older_ubuntu_binaries_shape_and_unfixed_ranges() -> None:
    advisory = parse_record(_load("ubuntu/UBUNTU-CVE-2023-51385.json"))
    ecosystems = {a.ecosystem for a in advisory.affected}
    # Ubuntu:Pro:14.04:LTS and every openssh-ssh1 entry have no fix: they fix nothing.
    assert "Ubuntu:Pro:14.04:LTS" not in ecosystems
    assert all(a.package == "openssh" for a in advisory.affected)
    jammy = next(a for a in advisory.affected if a.ecosystem == "Ubuntu:22.04:LTS")
    assert ("openssh-client", "1:8.9p1-3ubuntu0.6") in jammy.binaries
    assert advisory.cvss_score == 6.5


def test_almalinux_record_takes_red_hats_word_from_the_summary() -> None:
    advisory = parse_record(_load("almalinux/ALSA-2024-4312.json"))
    assert advisory.word == "Important"
    assert advisory.cves == ("CVE-2024-6387",)
    assert advisory.cvss_score is None
    index = AdvisoryIndex([advisory])
    found = index.match(
        host_ecosystems("almalinux", "9.4"), "openssh-server", "8.7p1-38.el9", "8.7p1-38.el9_4.1"
    )
    assert [(m.id, m.severity, m.word) for m in found] == [
        ("ALSA-2024:4312", "important", "Important")
    ]


def test_the_regresshion_update_on_jammy_matches_by_binary_name() -> None:
    index = _index("ubuntu/UBUNTU-CVE-2024-6387.json", "ubuntu/UBUNTU-CVE-2023-51385.json")
    found = index.match(JAMMY, "openssh-server", "1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10")
    # 51385 was fixed in 0ubuntu0.6, already installed: only regreSSHion is pending.
    assert [(m.id, m.severity, m.word, m.fixed) for m in found] == [
        ("UBUNTU-CVE-2024-6387", "important", "high", "1:8.9p1-3ubuntu0.10")
    ]


@pytest.mark.parametrize(
    ("installed", "candidate", "expected"),
    [
        ("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.13", ["UBUNTU-CVE-2024-6387"]),
        # The candidate does not reach the fix: this update does not close it.
        ("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.9", []),
        # Already fixed.
        ("1:8.9p1-3ubuntu0.10", "1:8.9p1-3ubuntu0.13", []),
        # Older than both fixes: both close with this update, medium and high.
        (
            "1:8.9p1-3ubuntu0.5",
            "1:8.9p1-3ubuntu0.10",
            ["UBUNTU-CVE-2024-6387", "UBUNTU-CVE-2023-51385"],
        ),
        # A newly installed package fixes nothing that was installed.
        (None, "1:8.9p1-3ubuntu0.10", []),
    ],
)
def test_installed_before_fix_and_fix_reached_by_candidate(
    installed: str | None, candidate: str, expected: list[str]
) -> None:
    index = _index("ubuntu/UBUNTU-CVE-2024-6387.json", "ubuntu/UBUNTU-CVE-2023-51385.json")
    found = index.match(JAMMY, "openssh-client", installed, candidate)
    assert [m.id for m in found] == expected


def test_other_release_or_other_package_does_not_match() -> None:
    index = _index("ubuntu/UBUNTU-CVE-2024-6387.json")
    assert (
        index.match(host_ecosystems("ubuntu", "20.04"), "openssh-server", "1:8.2p1-4", "1:8.2p1-5")
        == []
    )
    assert index.match(JAMMY, "openssl", "1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10") == []


def test_debian_urgency_and_alpine_cvss_with_their_own_orderings() -> None:
    index = AdvisoryIndex([parse_record(DEBIAN_RECORD), parse_record(ALPINE_RECORD)])
    debian = index.match(
        host_ecosystems("debian", "12"), "openssh", "1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3"
    )
    assert [(m.id, m.severity, m.word, m.cves) for m in debian] == [
        ("DEBIAN-CVE-2024-6387", "important", "high", ("CVE-2024-6387",))
    ]
    alpine = host_ecosystems("alpine", "3.20.3")
    assert alpine == ("Alpine:v3.20",)
    # apk ordering: 9.7_p1-r3 < 9.7_p1-r4; no word, so the CVSS score (8.1) decides.
    found = index.match(alpine, "openssh", "9.7_p1-r3", "9.7_p1-r4")
    assert [(m.severity, m.word, m.cvss_score) for m in found] == [("important", None, 8.1)]
    # 9.7_rc1 is a pre-release: before 9.7_p1 in apk's ordering (dpkg's would say after).
    assert index.match(alpine, "openssh", "9.7_rc1-r0", "9.7_p1-r4") != []


def test_ecosystems_from_os_release() -> None:
    assert host_ecosystems("ubuntu", "22.04") == ("Ubuntu:22.04:LTS", "Ubuntu:Pro:22.04:LTS")
    assert host_ecosystems("ubuntu", "23.10") == ("Ubuntu:23.10", "Ubuntu:Pro:23.10")
    assert host_ecosystems("debian", "12") == ("Debian:12",)
    assert host_ecosystems("rocky", "9.3") == ("Rocky Linux:9",)
    assert host_ecosystems("almalinux", "9.4") == ("AlmaLinux:9",)
    assert host_ecosystems("opensuse-leap", "15.5") == ("openSUSE:Leap 15.5",)
    assert host_ecosystems("sles", "15.5") == ("SUSE:Linux Enterprise Server 15 SP5",)
    assert host_ecosystems("arch", "") == ()


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
    ],
)
def test_cvss3_base_scores_match_the_specifications_examples(
    vector: str, score: float | None
) -> None:
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize(
    "bad",
    [[], {"id": "X"}, {"modified": "2024-01-01T00:00:00Z"}, {"id": "X", "modified": "yesterday"}],
)
def test_not_a_record_is_refused(bad: object) -> None:
    with pytest.raises(RecordError):
        parse_record(bad)


def test_round_trip_through_the_stored_form() -> None:
    from patchtui.advisories.osv import Advisory

    advisory = parse_record(_load("ubuntu/UBUNTU-CVE-2023-51385.json"))
    assert Advisory.from_json(json.loads(json.dumps(advisory.to_json()))) == advisory


def test_annotate_states_adds_ids_severity_and_published_without_changing_input() -> None:
    index = _index("ubuntu/UBUNTU-CVE-2024-6387.json")
    update = {
        "name": "openssh-server",
        "installed": "1:8.9p1-3ubuntu0.7",
        "candidate": "1:8.9p1-3ubuntu0.10",
        "severity": None,
        "security": False,
    }
    state = {
        "name": "web-1",
        "facts": {"os_id": "ubuntu", "os_version": "22.04"},
        "pending": [update],
    }
    (annotated,) = annotate_states([state], index)
    (result,) = annotated["pending"]
    assert result["cves"] == ["CVE-2024-6387"]
    assert result["advisories"] == ["UBUNTU-CVE-2024-6387", "USN-6859-1"]
    assert result["severity"] == "important"
    assert result["security"] is True
    assert result["published"] == 1719792000.0  # 2024-07-01T00:00:00Z
    assert result["osv"][0]["severity_word"] == "high"
    assert state["pending"][0] is update and update["severity"] is None


def test_severity_words_users_type() -> None:
    assert severity_choice("high") == "important"
    assert severity_choice("Critical") == "critical"
    assert severity_choice("medium") == "moderate"


def test_debian_binary_matches_its_source_record_through_the_changelogs_cve() -> None:
    index = AdvisoryIndex([parse_record(DEBIAN_RECORD)])
    bookworm = host_ecosystems("debian", "12")
    old, new = "1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3"
    # The record names the source (openssh); apt upgrades openssh-server.
    assert index.match(bookworm, "openssh-server", old, new) == []
    found = index.match(bookworm, "openssh-server", old, new, cves=["CVE-2024-6387"])
    assert [(m.id, m.severity, m.fixed) for m in found] == [
        ("DEBIAN-CVE-2024-6387", "important", "1:9.2p1-2+deb12u3")
    ]
    # The changelog names the CVE but the versions do not bracket the fix: no match.
    assert (
        index.match(bookworm, "openssh-server", new, "1:9.2p1-2+deb12u4", cves=["CVE-2024-6387"])
        == []
    )
    # Another release's record does not apply.
    assert (
        index.match(
            host_ecosystems("debian", "11"), "openssh-server", old, new, cves=["CVE-2024-6387"]
        )
        == []
    )


def test_the_index_from_the_stored_form_matches_like_the_parsed_one() -> None:
    advisories = [
        parse_record(_load(name))
        for name in ("ubuntu/UBUNTU-CVE-2024-6387.json", "ubuntu/UBUNTU-CVE-2023-51385.json")
    ] + [parse_record(DEBIAN_RECORD)]
    stored = {a.id: json.loads(json.dumps(a.to_json())) for a in advisories}
    lazy = AdvisoryIndex.from_records(stored)
    eager = AdvisoryIndex(advisories)
    cases = [
        (JAMMY, "openssh-server", "1:8.9p1-3ubuntu0.5", "1:8.9p1-3ubuntu0.10", ()),
        (JAMMY, "ssh", "1:8.9p1-3ubuntu0.5", "1:8.9p1-3ubuntu0.6", ()),
        (
            host_ecosystems("debian", "12"),
            "openssh-client",
            "1:9.2p1-2",
            "1:9.2p1-2+deb12u3",
            ("CVE-2024-6387",),
        ),
    ]
    for ecosystems, name, installed, candidate, cves in cases:
        expected = eager.match(ecosystems, name, installed, candidate, cves)
        assert expected and lazy.match(ecosystems, name, installed, candidate, cves) == expected
    assert lazy.count == 3
