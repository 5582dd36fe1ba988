"""Flags of ``patchtui patch`` for health gates, rollback on failure and blue-green runs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from patchtui.errors import ConfigError
from patchtui.inventory.model import Host

if TYPE_CHECKING:
    from patchtui.engine.bluegreen import BlueGreen


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def add_gate_flags(parser: argparse.ArgumentParser) -> None:
    gates = parser.add_argument_group("health gates (after each host's patch and reboot)")
    gates.add_argument(
        "--health-check",
        metavar="CMD",
        help="run on the host (as the SSH user, over the run's session); exit 0 = healthy",
    )
    gates.add_argument(
        "--health-url",
        metavar="URL",
        help="GET from this machine; any 2xx = healthy. {host} becomes the host's address, "
        "{name} its inventory name",
    )
    gates.add_argument(
        "--health-timeout",
        type=_seconds,
        default=120.0,
        metavar="SECONDS",
        help="retry until healthy for this long, then the host has failed (default 120)",
    )
    gates.add_argument(
        "--health-interval",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="seconds between attempts (default 5)",
    )
    gates.add_argument(
        "--rollback-on-failure",
        action="store_true",
        help="a host that fails its health gate, or fails after changing packages, gets its "
        "previous versions back (from this run's change record), verified",
    )


def gates_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``health`` and ``rollback_on_failure`` for PatchOptions."""
    from patchtui.engine.health import HealthGate

    command = getattr(args, "health_check", None)
    url = getattr(args, "health_url", None)
    health = None
    if command is not None or url is not None:
        health = HealthGate(
            command=command,
            url=url,
            timeout=getattr(args, "health_timeout", 120.0),
            interval=getattr(args, "health_interval", 5.0),
        )
    # A dry run changes nothing, so it gates and rolls back nothing (the engine skips both).
    return {
        "health": health,
        "rollback_on_failure": bool(getattr(args, "rollback_on_failure", False)),
    }


def add_blue_green_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("blue-green (patch the idle colour, switch, then the other)")
    group.add_argument(
        "--blue-green",
        metavar="LABEL|A,B",
        help="split the hosts in two colours by a label or var (color, or color=blue|green) "
        "or by two groups (blue,green)",
    )
    group.add_argument(
        "--idle",
        metavar="COLOUR",
        help="the colour patched first (not serving now); with two groups the default is the "
        "second named",
    )
    group.add_argument(
        "--switch",
        metavar="CMD",
        help="run once on this machine after the idle colour is all ok (e.g. the load "
        "balancer flip); exit 0 goes on to the other colour, anything else halts",
    )


def blue_green_from_args(args: argparse.Namespace, hosts: Sequence[Host]) -> BlueGreen | None:
    """The colours of the selected hosts, or None without --blue-green."""
    spec = getattr(args, "blue_green", None)
    if spec is None:
        for flag in ("idle", "switch"):
            if getattr(args, flag, None) is not None:
                raise ConfigError(f"--{flag} only goes with --blue-green")
        return None
    from patchtui.engine.bluegreen import split_colours

    return split_colours(hosts, spec, idle=args.idle, switch=args.switch)
