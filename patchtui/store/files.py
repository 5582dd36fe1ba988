"""Opening the store's files: never through a link, and one clear line for every OS error.

Why: patchtui usually runs as root. If it opened ``<db>.lock`` (or a temp,
host, history or transcript file) following symbolic links, anyone able to
create a name in the data directory could make root truncate or overwrite
any file on the system. So the store refuses, with one line (exit 2):

- a **data directory** (the database's parent) that is not a directory owned
  by this process's user or by root, or that every user may write to, even
  with the sticky bit (``/tmp``): anyone could create the lock file or the
  history directory before patchtui does. A link *to* the data directory is
  followed (that is where its owner put it); a group-writable directory is
  accepted (a team's shared directory, umask 002 systems), the rules below
  still hold for what group members create in it;
- a **link or non-regular file** at any name the store uses below it: the
  database file itself (see :func:`check_db_path`), the lock, temp, live, host,
  history, transcript and backup files, and the ``.history`` / ``.hosts``
  directories (which must pass the data-directory checks themselves);
- a file the store writes in place (lock, live file, transcript) that has
  more than one hard link: writing it would write the other name too.

Files are opened with ``O_NOFOLLOW`` (and ``O_NONBLOCK``, so a FIFO planted
at a store name cannot hang a reader); new files (temp files with a random
name, backups, live files) with ``O_CREAT | O_EXCL``, which never follows a
link either. Renames replace a name, never a link's target, and the name
being replaced is checked first so a link there is refused, not silently
replaced.

Every ``OSError`` of these operations becomes a :class:`StoreError` naming
the file and the reason (read-only file system, disk full, permission), so
a full or read-only disk is one line, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import secrets
import stat
from pathlib import Path

from patchtui.errors import StoreError

_OPEN_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
FILE_MODE = 0o644
DIR_MODE = 0o755

_HINTS = {
    errno.EROFS: "only reading commands such as history and compliance work there",
    errno.ENOSPC: "the disk is full: free some space and run again",
    errno.EDQUOT: "the disk quota is used up: free some space and run again",
    errno.EACCES: "run patchtui as the user that owns the database",
    errno.EPERM: "run patchtui as the user that owns the database",
}


def link_message(path: Path) -> str:
    try:
        target = f" (to {os.readlink(path)})"
    except OSError:
        target = ""
    return (
        f"{path} is a symbolic link{target}: patchtui never reads or writes the database's "
        "files through a link; remove the link (or point --db / PATCHTUI_DATA_DIR at the "
        "real location)"
    )


def io_error(action: str, path: Path, error: OSError, *, unchanged: bool = True) -> StoreError:
    """One line for an OS error on a store file: what was being done, where, why, what now."""
    if error.errno == errno.ELOOP or (error.errno == errno.EEXIST and os.path.islink(path)):
        return StoreError(link_message(path))
    reason = error.strerror or str(error)
    hint = _HINTS.get(error.errno or 0)
    text = f"cannot {action} {path}: {reason}"
    if hint:
        text += f" ({hint})"
    if unchanged:
        text += "; the database was not changed"
    return StoreError(text)


def _user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def check_directory(path: Path, *, what: str = "data directory", follow: bool = False) -> None:
    """Refuse a store directory another user could change (see the module docstring).

    ``follow``: the data directory itself may be reached through a link; the
    store's own subdirectories may not.
    """
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except OSError as error:
        raise io_error(f"examine the {what}", path, error) from None
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(link_message(path))
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{what} {path} is not a directory; move it aside")
    me = os.geteuid()
    if info.st_uid not in (me, 0):
        raise StoreError(
            f"{what} {path} belongs to {_user_name(info.st_uid)}, not to {_user_name(me)}: "
            "that user could replace the database's files; use a directory of your own"
        )
    if info.st_mode & stat.S_IWOTH:
        raise StoreError(
            f"{what} {path} is writable by every user (mode {stat.S_IMODE(info.st_mode):04o}): "
            f"anyone could plant files patchtui would use; `chmod o-w {path}` or use "
            "a directory of your own"
        )


def ensure_directory(path: Path, *, what: str, follow: bool = False) -> None:
    """Create ``path`` if missing (parents too), then :func:`check_directory` it."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except FileExistsError:
        pass  # a non-directory (or a dangling link) there: check_directory says which
    except OSError as error:
        raise io_error(f"create the {what}", path, error) from None
    check_directory(path, what=what, follow=follow)


def _check_opened(fd: int, path: Path, *, single_link: bool) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file; move it aside")
    if single_link and info.st_nlink > 1:
        raise StoreError(
            f"{path} has {info.st_nlink} hard links: writing it would change another file "
            "too; remove it"
        )


def open_file(path: Path, flags: int, *, action: str, single_link: bool = True) -> int:
    """``os.open`` without following a link; the fd of a regular file, else StoreError.

    ``flags`` are the access flags (``O_RDWR``, ``O_CREAT``, ...); without
    ``O_CREAT`` a missing file raises FileNotFoundError unchanged so callers can
    treat "absent" normally.
    """
    try:
        fd = os.open(path, flags | _OPEN_SAFE, FILE_MODE)
    except FileNotFoundError as error:
        if flags & os.O_CREAT:
            raise io_error(action, path, error) from None  # its directory went away
        raise
    except OSError as error:
        raise io_error(action, path, error) from None
    try:
        _check_opened(fd, path, single_link=single_link)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            # Back to blocking writes: O_NONBLOCK only had to keep a FIFO from hanging open().
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path) -> bytes | None:
    """The bytes of a store file, None if it does not exist; never through a link."""
    try:
        fd = open_file(path, os.O_RDONLY, action="read", single_link=False)
    except FileNotFoundError:
        return None
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as error:
        raise io_error("read", path, error) from None
    finally:
        os.close(fd)


def check_replaceable(path: Path) -> None:
    """Refuse to rename a new file over ``path`` if it is a link or not a regular file.

    A rename would replace the link itself (its target is safe), but silently
    dropping a link an administrator placed hides the problem: say so instead.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise io_error("examine", path, error) from None
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(link_message(path))
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file; move it aside")


def write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def create_new(
    path: Path,
    payload: bytes,
    *,
    action: str = "write",
    for_path: Path | None = None,
    mode: int | None = None,
    store_file: bool = True,
) -> None:
    """Create ``path`` (it must not exist, not even as a link) with ``payload``, fsynced.

    On failure the partly written file is removed. ``for_path``: the file a
    temp file stands for, named in OS errors (the temp name means nothing to a user).
    ``mode``: set exactly (umask ignored), for a backup that keeps its original's.
    ``store_file``: False for a file outside the database (a saved host output): its
    errors do not speak of the database, and a name already taken raises
    FileExistsError for the caller to say what is there.
    """
    shown = for_path or path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_SAFE, FILE_MODE)
    except FileExistsError:
        if not store_file:
            raise
        raise StoreError(
            f"cannot {action} {path}: something already exists at that name"
            + (" (a symbolic link)" if path.is_symlink() else "")
            + "; the database was not changed"
        ) from None
    except OSError as error:
        raise io_error(action, shown, error, unchanged=store_file) from None
    try:
        os.set_blocking(fd, True)
        if mode is not None:
            os.fchmod(fd, mode)
        write_all(fd, payload)
        os.fsync(fd)
    except OSError as error:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise io_error(action, shown, error, unchanged=store_file) from None
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def random_suffix() -> str:
    """pid + random: two writers never share a temp name; a stray file names its author."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def copy_to_new(source: Path, target: Path) -> Path:
    """Copy a store file to a backup name that does not exist yet; the name used.

    Never through a link at either end: the backup is created with O_EXCL, and
    if the name is taken (a backup made in the same second, or a planted link)
    the next free ``target.N`` is used, so nothing that exists is written.
    """
    payload = read_bytes(source)
    if payload is None:
        raise StoreError(f"cannot back up {source}: it does not exist; nothing was changed")
    mode = FILE_MODE
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.lstat(source).st_mode) & 0o777
    for attempt in range(100):
        candidate = target if attempt == 0 else target.with_name(f"{target.name}.{attempt}")
        if os.path.lexists(candidate):
            continue
        try:
            create_new(candidate, payload, action="write the backup", mode=mode)
        except StoreError:
            if os.path.lexists(candidate):
                continue  # taken between the check and the create: try the next name
            raise
        return candidate
    raise StoreError(f"cannot back up {source}: 100 backups named {target.name}* already exist")


def unused_name(path: Path) -> Path:
    """``path``, or ``path.N`` for the first N that names nothing (not even a link)."""
    for attempt in range(100):
        candidate = path if attempt == 0 else path.with_name(f"{path.name}.{attempt}")
        if not os.path.lexists(candidate):
            return candidate
    raise StoreError(f"cannot move a file aside: 100 files named {path.name}* already exist")


def move_aside(path: Path, target: Path) -> Path:
    """Rename a store file to an unused name beside it (its backup); the name used."""
    aside = unused_name(target)
    try:
        os.rename(path, aside)
    except OSError as error:
        raise io_error("move aside", path, error) from None
    return aside


def check_db_path(path: Path) -> None:
    """Refuse a database path that is a link (or not a regular file); a missing one is fine.

    Why refuse rather than follow: the store writes by renaming a new file over
    the name, which would replace the link with a file, and the two copies
    would silently diverge; and its history, host and lock files live beside
    the name, so following the link would split them from the file. One rule,
    "no links below the data directory", is also what keeps root from writing
    through a planted link.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise io_error("examine the database", path, error) from None
    if stat.S_ISLNK(info.st_mode):
        real = os.path.realpath(path)
        raise StoreError(
            f"database {path} is a symbolic link (to {os.readlink(path)}): patchtui does not "
            "follow it, since writing would replace the link with a file and the two copies "
            f"would diverge; use --db {real} (the real file) instead"
        )
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"database {path} is not a regular file; move it aside")
