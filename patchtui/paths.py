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
