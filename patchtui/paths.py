"""The one module that knows where patchtui keeps its files.

Environment overrides (used by tests and by people with unusual layouts):
``PATCHTUI_DATA_DIR`` for the database and patchtui's own known_hosts,
``PATCHTUI_CONFIG`` for the config directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "patchtui"


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
    path.mkdir(parents=True, exist_ok=True)
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
