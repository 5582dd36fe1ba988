"""The headless commands' side of alerts: ``--notify`` flags, warnings, and the record.

The sending lives in ``patchtui.engine.notify``; this module only turns the command
line and config.toml into a ``Notifier``, prints a failed delivery as one warning
line on stderr, and records every delivery with the run in the store. None of it can
fail a run or change its exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from patchtui.textsafe import one_line

if TYPE_CHECKING:
    from patchtui.engine.notify import Delivery, Notifier
    from patchtui.store.db import Store

# The engine side (urllib, smtplib, email) is imported only by a command that runs:
# cli.py imports this module for the flags, and ``patchtui --help`` must stay fast.


def add_notify_flags(parser: argparse.ArgumentParser) -> None:
    """``--notify TARGET`` (repeatable) and ``--no-notify``, for commands that run something."""
    group = parser.add_argument_group("alerts")
    group.add_argument(
        "--notify",
        action="append",
        metavar="URL|mailto:ADDR",
        help="send alerts here (repeatable; replaces config.toml [notify] targets): a webhook "
        "gets a JSON POST, mailto: an email via [notify.smtp]",
    )
    group.add_argument(
        "--no-notify", action="store_true", help="send no alerts, whatever config.toml says"
    )


def warn(line: str) -> None:
    sys.stderr.write(one_line(line) + "\n")
    sys.stderr.flush()


def notifier_for(args: argparse.Namespace, operation: str = "") -> Notifier:
    """The command's notifier; a bad ``--notify`` is bad input here, before any work."""
    from patchtui.config import load_config
    from patchtui.engine.notify import Notifier, settings_for

    settings = settings_for(
        load_config().notify,
        getattr(args, "notify", None),
        disabled=bool(getattr(args, "no_notify", False)),
    )
    return Notifier(settings, warn=warn, operation=operation)


def record_deliveries(store: Store, run_id: str | None, deliveries: Sequence[Delivery]) -> None:
    """Keep the deliveries with the run (``history --json`` shows them as ``notify``)."""
    if not deliveries or not run_id:
        return
    from patchtui.engine.notify import deliveries_json

    try:
        store.annotate_run(run_id, {"notify": deliveries_json(deliveries)})
    except Exception as error:  # the run is already recorded; this is only its postscript
        warn(f"warning: could not record the notifications with run {run_id}: {error}")


def finish(
    notifier: Notifier, store: Store | None, run_id: str | None, *, warn_now: bool = True
) -> list[Delivery]:
    """Wait (bounded) for the run's notifications and record them; warn of failures
    now, or (``warn_now=False``) leave that to ``warn_failures`` after the report."""
    if not notifier.enabled:
        return []
    notifier.warn = warn if warn_now else None
    deliveries = notifier.finish()
    if store is not None:
        record_deliveries(store, run_id, deliveries)
    return deliveries


def warn_failures(deliveries: Sequence[Delivery]) -> None:
    from patchtui.engine.notify import failure_warnings

    for line in failure_warnings(deliveries):
        warn(line)
