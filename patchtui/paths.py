"""The one module that knows where patchtui keeps its files.

Environment overrides (used by tests and by people with unusual layouts):
``PATCHTUI_DATA_DIR`` for the database and patchtui's own known_hosts,
``PATCHTUI_CONFIG`` for the config directory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "patchtui"


MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Largest file patchtui reads as user input (inventory, policy, config, ssh config)."""


class InputTooLarge(OSError):
    """A user input file is over ``MAX_INPUT_BYTES`` (or endless, like ``/dev/zero``)."""

    def __str__(self) -> str:
        return str(self.strerror)


def read_input_text(path: str | Path, limit: int = MAX_INPUT_BYTES) -> str:
    """``Path(path).read_text("utf-8")``, but at most ``limit`` bytes are ever read.

    Raises what ``read_text`` raises, and ``InputTooLarge`` (an ``OSError``
    whose ``strerror`` says so) for a bigger file or an endless device.
    """
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(0, f"larger than {limit // (1024 * 1024)} MiB; not read")
    return data.decode("utf-8")


def expand_user(path: str | Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded.

    Raises ``ValueError`` naming the user when there is no such user (or no
    home directory), where ``Path.expanduser`` raises a bare ``RuntimeError``.
    """
    text = str(path)
    if not text.startswith("~"):
        return Path(text)
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = text[1:].split("/", 1)[0]
        raise ValueError(f"cannot expand ~{user}: no such user" if user else "no home directory")
    return Path(expanded)


def data_dir() -> Path:
    override = os.environ.get("PATCHTUI_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))
    # Best effort: a reader (history on a read-only disk) needs no directory, and a
    # writer that cannot create it gets the store's one-line error naming it.
    # 0o755 whatever the umask: the store refuses a directory every user can write.
    with contextlib.suppress(OSError):
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    override = os.environ.get("PATCHTUI_CONFIG")
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))
    return path


def default_db_path() -> Path:
    return data_dir() / "patchtui.json"


def own_known_hosts_path() -> Path:
    """patchtui's own known_hosts: where accept-new records first-seen keys."""
    return data_dir() / "known_hosts"


def user_known_hosts_path() -> Path:
    return Path(os.path.expanduser("~/.ssh/known_hosts"))


def user_ssh_config_path() -> Path:
    return Path(os.path.expanduser("~/.ssh/config"))
