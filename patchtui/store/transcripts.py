"""Host output transcripts: one plain file per host per run, beside the database.

Why not in the database: a patch run prints thousands of lines per host, and
TinyDB rewrites its whole file on every commit, so output stored in the JSON
would make every later write slower and the hot file huge. Appending to a
plain file costs only the new bytes, is readable with ``less``, and is
deleted with its run by ``prune``. Each file is capped (default 2 MiB: the
first part of a runaway output is kept, then a marker) so a looping command
cannot fill the disk; the engine hands over at most a head and a tail of each
host's output anyway (``engine/transcript.py``), with an ``Omission`` line
where it dropped lines, and either makes ``transcript_truncated`` true. The
database keeps the relative path and the last lines (the tail, where the error
usually is), so a run's result view works without opening files and still
shows something if a transcript file is lost.

Lines are buffered in memory and appended when the store flushes, not one
write per output line. Transcript files and their run directory are never
opened through a link (:mod:`patchtui.store.files`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from patchtui.store.files import ensure_directory, io_error, open_file, write_all

DEFAULT_CAP_BYTES = 2 * 1024 * 1024
TAIL_LINES = 200
TAIL_CHARS = 16 * 1024

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class Omission(str):
    """A line patchtui itself wrote where output was left out (lines dropped, a line cut).

    A type, not a text pattern: host output arrives as plain ``str``, so a host
    that prints marker-like text cannot make a transcript look truncated, and
    a transcript holding one of these is reported ``transcript_truncated``.
    """

    __slots__ = ()


def safe_file_name(host: str) -> str:
    """A file name for ``host`` that cannot escape the directory or collide with another host."""
    cleaned = _UNSAFE.sub("_", host)[:100]
    if cleaned != host or cleaned.startswith(".") or not cleaned:
        cleaned = f"{cleaned.lstrip('.')}-{hashlib.sha1(host.encode()).hexdigest()[:8]}"
    return cleaned


def transcript_relpath(history_dir_name: str, run_id: str, host: str) -> str:
    """Path of a transcript relative to the database directory (survives moving the data dir)."""
    return f"{history_dir_name}/{run_id}/{safe_file_name(host)}.log"


@dataclass
class _Transcript:
    path: Path
    relpath: str
    buffered: list[str] = field(default_factory=list)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    written: int | None = None
    """Bytes in the file so far; None until first opened (a re-opened store may append)."""
    truncated: bool = False
    """Output was left out: by the engine (an ``Omission`` line) or by the size cap."""
    capped: bool = False
    """The file reached ``cap_bytes``; nothing more is written to it."""


class TranscriptBook:
    """Buffers and appends the transcripts of the runs one Store is recording."""

    def __init__(self, db_dir: Path, history_dir_name: str, *, cap_bytes: int) -> None:
        self.db_dir = db_dir
        self.history_dir_name = history_dir_name
        self.cap_bytes = cap_bytes
        self._open: dict[tuple[str, str], _Transcript] = {}
        self.buffered_bytes = 0

    def _get(self, run_id: str, host: str) -> _Transcript:
        key = (run_id, host)
        transcript = self._open.get(key)
        if transcript is None:
            relpath = transcript_relpath(self.history_dir_name, run_id, host)
            transcript = _Transcript(path=self.db_dir / relpath, relpath=relpath)
            self._open[key] = transcript
        return transcript

    def append(self, run_id: str, host: str, lines: list[str]) -> None:
        transcript = self._get(run_id, host)
        for line in lines:
            if isinstance(line, Omission):
                transcript.truncated = True
            text = line.rstrip("\n")
            transcript.buffered.append(text)
            transcript.tail.append(text)
            self.buffered_bytes += len(text) + 1

    def has(self, run_id: str, host: str) -> bool:
        return (run_id, host) in self._open

    def tail_fields(self, run_id: str, host: str) -> dict[str, object]:
        """What the host result stores about the transcript: path, tail, truncation."""
        transcript = self._open.get((run_id, host))
        if transcript is None:
            return {}
        tail = "\n".join(transcript.tail)
        if len(tail) > TAIL_CHARS:
            tail = tail[-TAIL_CHARS:].split("\n", 1)[-1]
        return {
            "transcript_path": transcript.relpath,
            "transcript_tail": tail,
            "transcript_truncated": transcript.truncated,
        }

    def write_buffered(self) -> None:
        """Append every buffered line to its file, honouring the size cap."""
        for transcript in self._open.values():
            if transcript.buffered:
                self._write(transcript)
        self.buffered_bytes = 0

    def _write(self, transcript: _Transcript) -> None:
        # The history directory, then the run's, at every write: a link swapped in
        # since the store opened must not redirect output into another directory.
        ensure_directory(self.db_dir / self.history_dir_name, what="history directory")
        ensure_directory(transcript.path.parent, what="transcript directory")
        if transcript.written is None:
            try:
                transcript.written = os.lstat(transcript.path).st_size
            except FileNotFoundError:
                transcript.written = 0
        data = "".join(f"{line}\n" for line in transcript.buffered).encode("utf-8", "replace")
        transcript.buffered.clear()
        if transcript.capped:
            return
        room = self.cap_bytes - transcript.written
        if len(data) > room:
            cut = data[: max(room, 0)]
            # Cut at a line end so the file never ends in half a (possibly multibyte) line.
            cut = cut[: cut.rfind(b"\n") + 1]
            data = cut + f"[patchtui: transcript truncated at {self.cap_bytes} bytes]\n".encode()
            transcript.truncated = True
            transcript.capped = True
        _append(transcript.path, data)
        transcript.written += len(data)

    def forget_run(self, run_id: str) -> None:
        for key in [key for key in self._open if key[0] == run_id]:
            del self._open[key]


def _append(path: Path, data: bytes) -> None:
    """Append to a transcript file, never through a link (or a second hard link)."""
    fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, action="open the transcript")
    try:
        write_all(fd, data)
    except OSError as error:
        raise io_error("append to the transcript", path, error, unchanged=False) from None
    finally:
        os.close(fd)
