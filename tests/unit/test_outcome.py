"""Outcome words and the counts said with them: one wording for JSON, console and history."""

from __future__ import annotations

import dataclasses
from typing import Any

from patchtui.engine.events import RunSummary
from patchtui.engine.outcome import (
    OUTCOMES,
    decide_outcome,
    describe_outcome,
    pending_text,
    skipped_text,
    stored_run_is_dry,
    stored_run_label,
    summary_from_record,
)
from patchtui.store import schema


def summary(**fields: Any) -> RunSummary:
    base: dict[str, Any] = {
        "hosts": 6,
        "ok": 6,
        "failed": 0,
        "unreachable": 0,
        "interrupted": 0,
        "skipped": 0,
        "pending": 0,
        "security": 0,
        "reboot_required": 0,
        "stale": 0,
        "duration": 1.0,
        "scanned": 6,
    }
    base.update(fields)
    return RunSummary(**base)


def test_hosts_outside_their_window_are_not_a_failure() -> None:
    """Seen: 'patch failed: 6/6 done (3 ok, 3 skipped)' when nothing failed."""
    done = summary(ok=3, skipped=3, skipped_reasons={"outside-window": 3}, scanned=3)
    outcome = decide_outcome(done, interrupted=False, halted=False)
    assert outcome == "completed"
    assert describe_outcome(outcome, done) == "completed"
    assert skipped_text(done) == "3 skipped (3 outside-window)"
    assert pending_text(done) == "0 pending (0 security) on 3 of 6 hosts"


def test_failures_are_named_with_their_counts() -> None:
    """Seen: 'scan failed: 40/40 done (36 ok, 3 failed, 1 unreachable)'."""
    done = summary(hosts=40, ok=36, failed=3, unreachable=1, scanned=36)
    outcome = decide_outcome(done, interrupted=False, halted=False)
    assert outcome == "completed-with-failures"
    assert describe_outcome(outcome, done) == "completed with 3 failed, 1 unreachable"


def test_interrupt_beats_halt_beats_dry_run() -> None:
    done = summary()
    assert decide_outcome(done, interrupted=True, halted=True, dry_run=True) == "interrupted"
    assert decide_outcome(done, interrupted=False, halted=True, dry_run=True) == "halted"
    assert decide_outcome(done, interrupted=False, halted=False, dry_run=True) == "dry-run"
    assert describe_outcome("dry-run", done) == "dry run"


def test_pending_never_reads_zero_for_hosts_not_looked_at() -> None:
    halted = summary(hosts=38, ok=8, unreachable=1, skipped=29, scanned=0)
    assert pending_text(halted) == "no host scanned"
    assert skipped_text(summary()) == ""


def test_every_outcome_word_is_a_valid_stored_status() -> None:
    assert set(OUTCOMES) <= schema.RUN_FINAL_STATUSES
    assert {"ok", "failed"} <= schema.RUN_FINAL_STATUSES  # older files stay valid


def test_stored_runs_read_in_todays_words() -> None:
    counts = dataclasses.asdict(summary(ok=5, failed=1, scanned=5))
    assert stored_run_label({"status": "failed", "counts": counts}) == "completed with 1 failed"
    assert stored_run_label({"status": "ok", "counts": counts}) == "completed"
    assert stored_run_label({"status": "running"}) == "running"
    # A dry run recorded before 'dry-run' existed is still marked as one.
    old_dry = {"status": "halted", "options": {"dry_run": True}, "counts": counts}
    assert stored_run_is_dry(old_dry)
    assert stored_run_label(old_dry) == "halted (dry run)"
    assert not stored_run_is_dry({"status": "ok", "counts": counts})


def test_a_hand_edited_record_does_not_break_history() -> None:
    assert summary_from_record(None) is None
    assert summary_from_record({}) is None
    odd = summary_from_record({"hosts": "six", "ok": 2, "skipped_reasons": {"halted": "x"}})
    assert odd is not None and odd.hosts == 0 and odd.ok == 2 and odd.skipped_reasons == {}
    assert odd.scanned == 2  # older records had no 'scanned': the hosts that reported
