"""The patch form's health gate and rollback fields: the headless flags' rules and words."""

from __future__ import annotations

import pytest

from patchtui.engine.health import HealthGate
from patchtui.engine.rollout import plan_rollout
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host
from patchtui.tui.screens.patch_modal import PatchForm, confirmation_lines, options_from_form


def test_form_gives_the_gate_and_rollback_to_the_engine() -> None:
    options = options_from_form(
        PatchForm(
            health_check=" systemctl is-active app ",
            health_url="http://{host}:8080/healthz",
            rollback_on_failure=True,
        )
    )
    assert options.health == HealthGate(
        command="systemctl is-active app", url="http://{host}:8080/healthz"
    )
    assert options.rollback_on_failure is True
    hosts = [Host(name="web-01", address="10.0.0.1")]
    lines = confirmation_lines("Patch", hosts, options, plan_rollout(hosts))
    assert (
        "Health gate: `systemctl is-active app` on the host and GET http://{host}:8080/healthz,"
        " every 5s for up to 120s; an unhealthy host fails"
    ) in lines
    assert "Rollback on failure: a failed host gets its previous versions back" in lines


def test_an_empty_form_has_no_gate() -> None:
    options = options_from_form(PatchForm())
    assert options.health is None and options.rollback_on_failure is False
    hosts = [Host(name="web-01", address="10.0.0.1")]
    lines = confirmation_lines("Patch", hosts, options, plan_rollout(hosts))
    assert not any(line.startswith(("Health gate", "Rollback")) for line in lines)


def test_a_bad_health_url_is_one_line_in_the_form() -> None:
    with pytest.raises(ConfigError) as caught:
        options_from_form(PatchForm(health_url="ftp://mirror/healthz"))
    assert str(caught.value) == (
        "--health-url 'ftp://mirror/healthz': needs an http:// or https:// URL with a host"
    )
