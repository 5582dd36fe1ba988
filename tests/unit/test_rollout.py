from __future__ import annotations

import pytest

from patchtui.engine.rollout import (
    CANARY_FIT,
    CANARY_UNFIT,
    Amount,
    canary_fitness,
    pick_canaries,
    plan_rollout,
    prod_count,
    typed_confirmation,
)
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host


def hosts(count: int, **labels_by_index: dict[str, str]) -> list[Host]:
    made = []
    for index in range(count):
        labels = labels_by_index.get(f"h{index}", {})
        made.append(Host(name=f"h{index}", address="127.0.0.1", labels=labels))
    return made


def names(wave: tuple[Host, ...]) -> list[str]:
    return [host.name for host in wave]


def test_amount_parses_counts_and_percentages() -> None:
    assert Amount.parse("3", flag="--batch").of(40) == 3
    assert Amount.parse("25%", flag="--batch").of(40) == 10
    assert Amount.parse("10%", flag="--max-failures").of(5) == 0
    assert Amount.parse("1%", flag="--batch").of(5, at_least=1) == 1


@pytest.mark.parametrize("text", ["x", "-1", "150%", "2.5"])
def test_amount_rejects_nonsense(text: str) -> None:
    with pytest.raises(ConfigError, match="--batch"):
        Amount.parse(text, flag="--batch")


def test_canary_then_waves_of_a_quarter() -> None:
    plan = plan_rollout(hosts(40), canary=2, batch=Amount.parse("25%", flag="--batch"))
    assert names(plan.waves[0]) == ["h0", "h1"]
    assert plan.canary_count == 1
    assert [len(wave) for wave in plan.waves[1:]] == [10, 10, 10, 8]
    assert plan.host_count == 40
    assert plan.wave_label(0) == "canary"
    assert plan.wave_label(1) == "wave 1/4"


def test_labelled_canaries_go_first() -> None:
    fleet = hosts(5, h3={"canary": "true"})
    chosen, _ = pick_canaries(fleet, 2)
    assert [host.name for host in chosen] == ["h3", "h0"]


def test_hosts_of_one_cluster_never_share_a_wave() -> None:
    fleet = hosts(
        6,
        h0={"cluster": "db-a"},
        h1={"cluster": "db-a"},
        h2={"cluster": "db-a"},
        h3={"cluster": "db-b"},
    )
    plan = plan_rollout(fleet, batch=Amount.parse("10", flag="--batch"))
    for wave in plan.waves:
        clusters = [host.cluster for host in wave if host.cluster]
        assert len(clusters) == len(set(clusters))
    assert plan.host_count == 6
    assert [names(wave) for wave in plan.waves] == [["h0", "h3", "h4", "h5"], ["h1"], ["h2"]]


def test_no_batch_means_one_wave_and_default_threshold_is_zero() -> None:
    plan = plan_rollout(hosts(7))
    assert len(plan.waves) == 1
    assert plan.max_failures == 0


def test_failure_threshold_from_percentage() -> None:
    plan = plan_rollout(hosts(40), max_failures=Amount.parse("10%", flag="--max-failures"))
    assert plan.max_failures == 4


def test_a_host_whose_last_scan_failed_is_never_a_canary() -> None:
    """Seen: the canaries were the two hosts whose last scan had failed (dpkg lock,
    changed host key), so the run halted on a host known to be broken."""
    fleet = hosts(6)
    fitness = canary_fitness(
        {"h0": "failed", "h1": "unreachable", "h2": "idle", "h3": "ok", "h4": "ok", "h5": "ok"}
    )
    plan = plan_rollout(fleet, canary=2, fitness=fitness)
    assert plan.canaries == ("h3", "h4")
    assert names(plan.waves[0]) == ["h3", "h4"]
    assert "2 hosts whose last scan failed excluded" in plan.canary_note
    # Hosts never scanned come after the ok ones, failed ones never.
    plan = plan_rollout(fleet, canary=5, fitness=fitness)
    assert plan.canaries == ("h3", "h4", "h5", "h2")
    assert "only 4 of 5 asked could be canaries" in plan.canary_note


def test_canary_and_staging_labels_are_preferred_among_fit_hosts() -> None:
    fleet = hosts(5, h1={"env": "staging"}, h2={"canary": "true"}, h4={"canary": "true"})
    fitness = {"h0": CANARY_FIT, "h1": CANARY_FIT, "h2": CANARY_FIT, "h3": CANARY_FIT}
    chosen, _ = pick_canaries(fleet, 3, fitness=fitness)
    # h4 is labelled canary but was never scanned: fit hosts come first.
    assert [host.name for host in chosen] == ["h2", "h1", "h0"]


def test_named_canaries_are_the_canaries_whatever_the_count() -> None:
    fleet = hosts(4)
    plan = plan_rollout(fleet, canary=1, canary_hosts=("h2", "h3"), fitness={"h2": CANARY_UNFIT})
    assert plan.canaries == ("h2", "h3") and plan.canary_note == "named"
    assert plan.wave_label(0) == "canary" and names(plan.waves[1]) == ["h0", "h1"]


def test_many_or_production_hosts_are_confirmed_by_typing_their_count() -> None:
    """One rule for the console and the headless prompt (the prompt once missed env=Prod)."""
    fleet = hosts(3)
    assert typed_confirmation(fleet, above=20) is None
    assert typed_confirmation(fleet, above=2) == "3"
    prod = hosts(2, h1={"env": "Prod"})
    assert prod_count(prod) == 1 and typed_confirmation(prod, above=20) == "2"
