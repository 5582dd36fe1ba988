"""``patch --min-severity``: what the selection keeps, with and without OSV severities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchtui.advisories.osv import AdvisoryIndex, annotate_updates, parse_record
from patchtui.config import parse_config
from patchtui.drivers.base import PendingUpdate, Selection, at_least
from patchtui.errors import ConfigError

DATA = Path(__file__).resolve().parents[1] / "data" / "osv"


def _update(name: str, severity: str | None, installed: str = "1", candidate: str = "2"):
    return PendingUpdate(name=name, installed=installed, candidate=candidate, severity=severity)


def test_at_least_orders_severities_and_never_passes_unknown() -> None:
    assert at_least("critical", "important") and at_least("important", "important")
    assert not at_least("moderate", "important")
    assert not at_least("unknown", "low") and not at_least(None, "low")


def test_selection_keeps_only_updates_severe_enough() -> None:
    pending = [
        _update("a", "critical"),
        _update("b", "important"),
        _update("c", "moderate"),
        _update("d", None),
    ]
    chosen, _ = Selection(min_severity="important").choose(pending)
    assert [u.name for u in chosen] == ["a", "b"]
    assert not Selection(min_severity="critical").is_everything
    assert Selection().choose(pending)[0] == pending


def test_an_apt_update_gets_its_severity_from_the_synced_ubuntu_record() -> None:
    record = json.loads((DATA / "ubuntu" / "UBUNTU-CVE-2024-6387.json").read_text())
    index = AdvisoryIndex([parse_record(record)])
    ssh = _update("openssh-server", None, "1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10")
    other = _update("tzdata", None, "2024a-0ubuntu0.22.04", "2024a-0ubuntu0.22.04.1")
    annotated = annotate_updates([ssh, other], "ubuntu", "22.04", index)
    assert annotated[1] is other
    assert (annotated[0].severity, annotated[0].security) == ("important", True)
    assert annotated[0].cves == ("CVE-2024-6387",)
    chosen, _ = Selection(min_severity="important").choose(annotated)
    assert [u.name for u in chosen] == ["openssh-server"]
    # A critical floor leaves even regreSSHion (Ubuntu: high) out.
    assert Selection(min_severity="critical").choose(annotated)[0] == []
    # Another release: the record does not apply, nothing changes.
    assert annotate_updates([ssh], "ubuntu", "24.04", index) == [ssh]


def test_config_default_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert parse_config('[defaults]\nmin_severity = "High"\n', path).min_severity == "high"
    with pytest.raises(ConfigError, match=r"config\.toml: defaults\.min_severity must be one of"):
        parse_config('[defaults]\nmin_severity = "urgent"\n', path)


def test_min_severity_does_not_combine_with_a_baseline() -> None:
    import argparse

    from patchtui.headless.patch_command import baseline_from_args

    args = argparse.Namespace(
        baseline="tested", security_only=False, dist_upgrade=False, min_severity="high"
    )
    with pytest.raises(ConfigError, match="--min-severity does not combine"):
        baseline_from_args(args)
