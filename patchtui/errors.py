"""User-facing errors: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

from patchtui.exit_codes import ExitCode


class PatchtuiError(Exception):
    """An error the user can fix; ``str()`` is the one line shown to them."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class InventoryError(PatchtuiError):
    """Broken inventory file, unknown key, duplicate host, bad value."""


class PatternError(PatchtuiError):
    """A --limit pattern names an unknown group or matches nothing."""


class ConfigError(PatchtuiError):
    """Bad command-line flag value, policy or config file."""


class StoreError(PatchtuiError):
    """The database file is corrupt or unreadable; it is never overwritten."""


class StoreLockedError(PatchtuiError):
    """Another patchtui process holds the database lock past the wait limit."""

    exit_code = ExitCode.DB_LOCKED


class AdvisoryDataError(PatchtuiError):
    """OSV advisory input (file, zip, URL) that cannot be read or is not OSV records."""
