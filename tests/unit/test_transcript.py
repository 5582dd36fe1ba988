"""HostTranscript: head and tail within line and character bounds; truncation told truthfully."""

from __future__ import annotations

from pathlib import Path

from patchtui.engine.scrollback import Scrollback
from patchtui.engine.transcript import (
    HEAD_LINES,
    MAX_LINE_CHARS,
    TAIL_CHARS,
    TAIL_LINES,
    HostTranscript,
    clip_line,
)
from patchtui.store.transcripts import Omission, TranscriptBook


def test_short_output_is_kept_whole_and_not_truncated() -> None:
    transcript = HostTranscript()
    for index in range(100):
        transcript.append(f"line {index}")
    assert list(transcript) == [f"line {index}" for index in range(100)]
    assert not transcript.truncated
    assert not any(isinstance(line, Omission) for line in transcript)


def test_long_output_keeps_head_marker_and_tail() -> None:
    transcript = HostTranscript()
    total = HEAD_LINES + TAIL_LINES + 1234
    for index in range(total):
        transcript.append(f"line {index}")
    lines = list(transcript)
    assert lines[:HEAD_LINES] == [f"line {index}" for index in range(HEAD_LINES)]
    assert isinstance(lines[HEAD_LINES], Omission)
    assert "1,234 lines dropped" in lines[HEAD_LINES]
    assert lines[HEAD_LINES + 1 :] == [
        f"line {index}" for index in range(total - TAIL_LINES, total)
    ]
    assert transcript.truncated and transcript.dropped == 1234
    assert transcript.received == total


def test_the_tail_is_bounded_in_characters_too() -> None:
    transcript = HostTranscript()
    wide = "x" * (MAX_LINE_CHARS - 10)
    for index in range(2_000):
        transcript.append(f"{index:05d}{wide}")
    lines = list(transcript)
    kept_chars = sum(len(line) for line in lines)
    # Head and tail budgets, and nothing much beyond them.
    assert kept_chars <= 256 * 1024 + TAIL_CHARS + MAX_LINE_CHARS * 2
    assert lines[-1].startswith("01999")
    assert transcript.truncated


def test_a_huge_line_is_cut_with_a_note() -> None:
    line = "y" * (MAX_LINE_CHARS + 5000)
    cut = clip_line(line)
    assert isinstance(cut, Omission)
    assert cut.startswith("y" * MAX_LINE_CHARS)
    assert cut.endswith("[patchtui: 5,000 more characters cut]")
    assert clip_line(cut) is cut  # never cut twice
    assert clip_line("short") == "short" and not isinstance(clip_line("short"), Omission)


def test_scrollback_drop_oldest_across_blocks() -> None:
    lines = Scrollback(10_000)
    lines.extend(f"l{index}" for index in range(1000))
    lines.drop_oldest(700)
    assert len(lines) == 300
    assert list(lines) == [f"l{index}" for index in range(700, 1000)]
    lines.drop_oldest(5000)
    assert len(lines) == 0 and list(lines) == []


def test_book_marks_truncated_only_for_omissions(tmp_path: Path) -> None:
    book = TranscriptBook(tmp_path, "history", cap_bytes=1 << 20)
    book.append("r1", "plain", ["$ cmd", "[patchtui: 5 lines dropped here]"])
    book.append("r1", "cut", ["$ cmd", Omission("[patchtui: 5 lines dropped here]")])
    assert book.tail_fields("r1", "plain")["transcript_truncated"] is False
    assert book.tail_fields("r1", "cut")["transcript_truncated"] is True
