"""Writing, verifying and installing the units ``patchtui schedule`` generates.

Files are written through a directory descriptor opened with ``O_NOFOLLOW``, each
created under a fresh temporary name (``O_EXCL | O_NOFOLLOW``) and then linked (new
files: fails if the name exists meanwhile) or renamed (``--force``) into place, so a
symlink planted at a unit's name or as the directory is refused, never written through.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patchtui.engine.schedule import UnitFile
from patchtui.errors import ConfigError

VERIFY_TIME_LIMIT = 60.0


def _open_directory(directory: Path) -> int:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{directory}: cannot create the directory: {error.strerror}") from None
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if os.path.islink(directory):
            raise ConfigError(
                f"{directory}: is a symbolic link; refusing to write through it"
            ) from None
        raise ConfigError(f"{directory}: cannot open the directory: {error.strerror}") from None


def write_files(directory: Path, files: Sequence[UnitFile], *, force: bool) -> list[Path]:
    """Write every file into ``directory``; all names are checked before any is written."""
    dir_fd = _open_directory(directory)
    try:
        clashes: list[str] = []
        for unit in files:
            try:
                info = os.stat(unit.name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode):
                raise ConfigError(
                    f"{directory / unit.name}: is a symbolic link; refusing to write through it"
                )
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"{directory / unit.name}: exists and is not a regular file")
            clashes.append(unit.name)
        if clashes and not force:
            raise ConfigError(
                f"{directory}: {', '.join(clashes)} already exist; --force replaces them"
            )
        written: list[Path] = []
        for unit in files:
            _write_one(dir_fd, unit, force=force)
            written.append(directory / unit.name)
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
        return written
    finally:
        os.close(dir_fd)


def _write_one(dir_fd: int, unit: UnitFile, *, force: bool) -> None:
    temp = f".{unit.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o644, dir_fd=dir_fd)
    try:
        try:
            os.fchmod(fd, 0o644)  # whatever the umask: systemd and cron read these
            os.write(fd, unit.text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(temp, unit.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        else:
            try:
                os.link(
                    temp, unit.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False
                )
            except FileExistsError:
                raise ConfigError(
                    f"{unit.name} appeared while writing; --force replaces it"
                ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)


@dataclass(frozen=True)
class Verification:
    ran: bool
    ok: bool
    message: str


def verify_units(files: Sequence[UnitFile], *, user: bool) -> Verification:
    """``systemd-analyze verify`` on the units, in a private temporary directory.

    User units are verified by ``systemd-analyze --user``, which needs a user manager's
    runtime directory; where there is none (a root shell, CI) they are checked as system
    units, which reads the same syntax, and the message says so.
    """
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return Verification(False, True, "systemd-analyze not found: units not verified")
    units = [unit for unit in files if unit.kind in {"service", "timer"}]
    if not units:
        return Verification(False, True, "no units to verify")
    with tempfile.TemporaryDirectory(prefix="patchtui-units-") as scratch:
        paths = [str(path) for path in write_files(Path(scratch), units, force=False)]
        names = [unit.name for unit in units]
        ok, ours, output = _verify(tool, ["--user"] if user else [], paths, names, scratch)
        note = ""
        if user and not ok and not ours:
            ok, ours, output = _verify(tool, [], paths, names, scratch)
            note = " (as system units: no user manager here)"
    if not ok:
        return Verification(True, False, "; ".join(ours or output.splitlines()[-3:]))
    return Verification(True, True, f"verified {len(units)} units with systemd-analyze{note}")


def _verify(
    tool: str, scope: list[str], paths: list[str], names: list[str], scratch: str
) -> tuple[bool, list[str], str]:
    """(passed, lines about our units, all output) of one systemd-analyze verify."""
    try:
        result = subprocess.run(
            [tool, *scope, "verify", *paths],
            capture_output=True,
            text=True,
            timeout=VERIFY_TIME_LIMIT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, [], f"systemd-analyze verify could not run: {error}"
    output = (result.stdout + result.stderr).replace(scratch + "/", "")
    # verify also reports problems of units it merely loads (other installed units);
    # only lines about ours count against them.
    ours = [line for line in output.splitlines() if line.strip() and any(n in line for n in names)]
    return result.returncode == 0 and not ours, ours, output


def install_directory(root: Path, *, user: bool) -> Path:
    """Where units go: /etc/systemd/system, or the user's ~/.config/systemd/user, under root."""
    if user:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        relative = Path(config).relative_to("/") / "systemd" / "user"
    else:
        relative = Path("etc/systemd/system")
    return root / relative


def enable_timers(root: Path, timers: Sequence[str], *, user: bool) -> list[str]:
    """Enable (and, on the live system, start) the timers; returns what was run.

    Under another --root, ``systemctl --root`` only makes the links (offline, no
    manager is asked); on the live system a daemon-reload comes first.
    """
    tool = shutil.which("systemctl")
    if tool is None:
        raise ConfigError("systemctl not found: enable the timers by hand (see the README)")
    live = root == Path("/")
    if not live and user:
        return []  # systemctl cannot enable user units under another root
    commands: list[list[str]] = []
    scope = ["--user"] if user else []
    if live:
        commands.append([tool, *scope, "daemon-reload"])
        commands.append([tool, *scope, "enable", "--now", *timers])
    else:
        commands.append([tool, f"--root={root}", "enable", *timers])
    for command in commands:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ConfigError(
                f"{' '.join(command[1:])} failed (exit {result.returncode})"
                + (f": {detail[-1]}" if detail else "")
            )
    return [" ".join(command) for command in commands]
