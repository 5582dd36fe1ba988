"""--limit patterns: Ansible-style union, intersection and exclusion over the fixture fleet."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchtui.errors import PatternError
from patchtui.inventory import (
    Inventory,
    PatternTerm,
    is_all,
    load_inventory,
    parse_pattern,
    select_hosts,
)

FLEET = Path(__file__).resolve().parents[1] / "data" / "inventories" / "fleet.yaml"
ALL = ["web01", "web02", "web03", "db01", "db02", "stg-web01", "stg-db01", "bastion"]


@pytest.fixture(scope="module")
def fleet() -> Inventory:
    return load_inventory(FLEET)


def select(inventory: Inventory, pattern: str | None) -> list[str]:
    return [host.name for host in select_hosts(inventory, pattern)]


def error_of(inventory: Inventory, pattern: str) -> PatternError:
    with pytest.raises(PatternError) as info:
        select_hosts(inventory, pattern)
    assert info.value.where is None
    return info.value


def test_fixture_fleet_is_what_the_tests_assume(fleet: Inventory) -> None:
    assert [host.name for host in fleet.hosts] == ALL


@pytest.mark.parametrize("pattern", [None, "all", "*", " all "])
def test_everything_patterns_select_all_in_order(fleet: Inventory, pattern: str | None) -> None:
    assert select(fleet, pattern) == ALL
    assert is_all(pattern)


@pytest.mark.parametrize("pattern", ["", "  ", "\t", "\n"])
def test_an_empty_or_blank_pattern_is_refused_not_everything(
    fleet: Inventory, pattern: str
) -> None:
    # -l "$UNSET" must not turn a patch of a few hosts into a patch of the fleet.
    assert not is_all(pattern)
    error = error_of(fleet, pattern)
    assert "empty" in str(error) and "--limit" in str(error)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("db01", ["db01"]),
        ("web", ["web01", "web02", "web03", "stg-web01"]),
        ("web0*", ["web01", "web02", "web03"]),
        ("*db0?", ["db01", "db02", "stg-db01"]),
        ("web0[13]", ["web01", "web03"]),
        # A glob also matches group names: 'stag*' is the staging group.
        ("stag*", ["stg-web01", "stg-db01"]),
        # Union keeps inventory order, not pattern order.
        # 'web*' matches the hosts web01..03 and the group web (which has stg-web01).
        ("db01,web*", ["web01", "web02", "web03", "db01", "stg-web01"]),
        ("web*,db01", ["web01", "web02", "web03", "db01", "stg-web01"]),
        ("web0*,db01", ["web01", "web02", "web03", "db01"]),
        ("prod&web", ["web01", "web02", "web03"]),
        ("web:&prod", ["web01", "web02", "web03"]),
        ("all,!db*", ["web01", "web02", "web03", "stg-web01", "bastion"]),
        ("env=prod&role=web", ["web01", "web02", "web03"]),
        ("env=prod", ["web01", "web02", "web03", "db01", "db02", "bastion"]),
        ("cluster=db-*", ["db01", "db02", "stg-db01"]),
        ("role=b*", ["bastion"]),
        ("web:!web02", ["web01", "web03", "stg-web01"]),
        ("web!web02", ["web01", "web03", "stg-web01"]),
        ("web,db,!staging", ["web01", "web02", "web03", "db01", "db02"]),
        ("web , db01", ["web01", "web02", "web03", "db01", "stg-web01"]),
        # No plain term: start from all hosts, as Ansible does.
        ("!db*", ["web01", "web02", "web03", "stg-web01", "bastion"]),
        ("&staging", ["stg-web01", "stg-db01"]),
        # bastion has the label env=prod but is not in the prod group.
        ("!prod", ["stg-web01", "stg-db01", "bastion"]),
        # Intersections all apply: prod & db & cluster=db-a.
        ("db&prod&cluster=db-a", ["db01", "db02"]),
        # Exclusions apply after every intersection, wherever they are written.
        ("!db02,db&prod", ["db01"]),
        ("*", ALL),
        ("all:!bastion", ALL[:-1]),
    ],
)
def test_select_hosts(fleet: Inventory, pattern: str, expected: list[str]) -> None:
    assert select(fleet, pattern) == expected


def test_selected_hosts_are_the_inventory_host_objects(fleet: Inventory) -> None:
    selected = select_hosts(fleet, "db01")
    assert selected[0] is fleet.host("db01")
    assert selected[0].address == "10.0.0.5"


def test_parse_pattern_structure() -> None:
    assert parse_pattern("web*,db01:&prod!db02") == [
        PatternTerm("union", "web*"),
        PatternTerm("union", "db01"),
        PatternTerm("intersect", "prod"),
        PatternTerm("exclude", "db02"),
    ]
    assert [str(term) for term in parse_pattern("a,&b,!c")] == ["a", "&b", "!c"]
    assert parse_pattern("env=prod&role=web") == [
        PatternTerm("union", "env=prod"),
        PatternTerm("intersect", "role=web"),
    ]


def test_is_all_is_false_for_real_patterns() -> None:
    assert not is_all("web")
    assert not is_all("all,!db01")


# --------------------------------------------------------------------------- errors


def test_unknown_name_suggests_nearest(fleet: Inventory) -> None:
    error = error_of(fleet, "web*,bastoin")
    assert error.message == (
        "pattern 'web*,bastoin': 'bastoin': no host or group named 'bastoin' "
        "(did you mean 'bastion'?)"
    )
    assert str(error) == error.message


def test_unknown_group_suggests_nearest(fleet: Inventory) -> None:
    error = error_of(fleet, "prdo&web")
    assert error.message == (
        "pattern 'prdo&web': 'prdo': no host or group named 'prdo' (did you mean 'prod'?)"
    )


def test_unknown_name_without_suggestion(fleet: Inventory) -> None:
    error = error_of(fleet, "zzz")
    assert error.message == "pattern 'zzz': 'zzz': no host or group named 'zzz'"


def test_exclusion_typo_is_an_error_not_a_no_op(fleet: Inventory) -> None:
    # Silently ignoring '!prdo' would patch prod hosts the user meant to spare.
    error = error_of(fleet, "all,!prdo")
    assert "'!prdo': no host or group named 'prdo' (did you mean 'prod'?)" in error.message


def test_glob_matching_nothing(fleet: Inventory) -> None:
    error = error_of(fleet, "web*,cache*")
    assert error.message == "pattern 'web*,cache*': 'cache*' matches no host or group"


def test_empty_group(fleet: Inventory) -> None:
    error = error_of(fleet, "web,empty")
    assert error.message == "pattern 'web,empty': 'empty': group 'empty' has no hosts"


def test_unknown_label_key(fleet: Inventory) -> None:
    error = error_of(fleet, "evn=prod")
    assert (
        error.message
        == "pattern 'evn=prod': 'evn=prod': no host has a label 'evn' (did you mean 'env'?)"
    )


def test_label_value_matching_nothing_lists_known_values(fleet: Inventory) -> None:
    error = error_of(fleet, "env=qa")
    assert (
        error.message == "pattern 'env=qa': 'env=qa' matches no host; env is one of: prod, staging"
    )


@pytest.mark.parametrize("pattern", ["=prod", "env=", "&env="])
def test_incomplete_label_term(fleet: Inventory, pattern: str) -> None:
    assert "expected label=value, e.g. env=prod" in error_of(fleet, pattern).message


def test_empty_intersection(fleet: Inventory) -> None:
    error = error_of(fleet, "staging&prod")
    assert error.message == "pattern 'staging&prod' matches no host"


def test_excluding_everything(fleet: Inventory) -> None:
    error = error_of(fleet, "db01,!db*")
    assert error.message == "pattern 'db01,!db*' matches no host"


@pytest.mark.parametrize("pattern", ["web,,db01", "web,", ",web", "web::db01"])
def test_empty_terms(fleet: Inventory, pattern: str) -> None:
    error = error_of(fleet, pattern)
    assert error.message == (
        f"pattern {pattern!r} has an empty term (look for a doubled or trailing ',' or ':')"
    )


@pytest.mark.parametrize(
    ("pattern", "operator"), [("web,&", "&"), ("!", "!"), ("web&&db", "&"), ("web,!&db", "!")]
)
def test_dangling_operator(fleet: Inventory, pattern: str, operator: str) -> None:
    error = error_of(fleet, pattern)
    assert error.message == (
        f"pattern {pattern!r}: '{operator}' must be followed by a host, group, glob or label=value"
    )


def test_sample_inventory_patterns() -> None:
    sample = load_inventory(Path(__file__).resolve().parents[2] / "sample_inventory.yaml")
    assert select(sample, "staging&web") == ["web-stg01"]
    assert select(sample, "env=prod&role=web") == ["web01", "web02", "web03", "web04"]
    assert select(sample, "cluster=db-a") == ["db01", "db02", "db03"]
    assert "db01" not in select(sample, "all,!db*")
    assert select(sample, "dmz,!web*") == ["alpine-edge01"]
