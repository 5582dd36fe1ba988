"""The user's config file: defaults for flags they would otherwise type every night.

``config.toml`` in ``paths.config_dir()`` (``$PATCHTUI_CONFIG`` overrides the
directory; XDG ``~/.config/patchtui`` otherwise)::

    [defaults]
    concurrency = 100             # hosts worked on at once
    policy = "policies/prod.yaml" # compliance policy; relative to this file
    theme = "nord"                # console theme
    host_key_policy = "accept-new"  # for hosts whose inventory does not say
    typed_confirm_above = 20      # patching/rebooting more hosts (or any env=prod) asks
                                  # for the host count typed, not a single y
    advisories_max_age_days = 7   # OSV data older than this is reported as stale
    min_severity = "high"         # patch installs only updates this severe or more
    stale_mirror_days = 7         # repository metadata older than this: a stale mirror

    [notify]                      # alerts (patchtui/engine/notify.py; README "Alerts")
    targets = ["https://hooks.example.com/…", "mailto:ops@example.com"]
    events = ["run-end", "halt", "critical-missing"]
    timeout = 5                   # seconds per delivery attempt (one retry at most)

    [notify.smtp]                 # for mailto: targets; never taken from the command line
    host = "smtp.example.com"
    port = 587
    tls = "starttls"              # or "ssl", "none"
    username = "patchtui"
    password_env = "PATCHTUI_SMTP_PASSWORD"  # or password = "..." (this file, not argv)
    from = "patchtui@example.com"

A missing file means built-in defaults. Any other mistake (bad TOML, an
unknown section or key, a wrong type) is a ``ConfigError`` naming the file
and the key: a typo silently ignored would be a default the user thinks they
changed. Every field of ``Config`` is None when the file does not set it, so
each caller keeps its own built-in default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from patchtui import paths
from patchtui.errors import ConfigError
from patchtui.inventory.model import HOST_KEY_POLICIES, HostKeyPolicy

if TYPE_CHECKING:
    from patchtui.engine.notify import NotifySettings

CONFIG_FILE_NAME = "config.toml"
_DEFAULT_KEYS = (
    "concurrency",
    "policy",
    "theme",
    "host_key_policy",
    "typed_confirm_above",
    "advisories_max_age_days",
    "min_severity",
    "stale_mirror_days",
)

_SECTIONS = ("defaults", "notify")

TYPED_CONFIRM_ABOVE = 20
"""Built-in: a change to more hosts than this is confirmed by typing the host count."""

STALE_MIRROR_DAYS = 7
"""Built-in: repository metadata older than this many days means a stale mirror."""


@dataclass(frozen=True)
class Config:
    """Defaults from the config file; None means "not set, use the built-in default"."""

    concurrency: int | None = None
    policy: Path | None = None
    """Absolute path of the compliance policy file."""
    theme: str | None = None
    host_key_policy: HostKeyPolicy | None = None
    """strict or accept-new."""
    typed_confirm_above: int | None = None
    """Hosts a change may reach with a plain y; above it (or with env=prod) the count is typed."""
    advisories_max_age_days: int | None = None
    """OSV advisory data whose newest record is older than this many days is reported stale."""
    min_severity: str | None = None
    """patch's --min-severity when the command line does not give one."""
    notify: NotifySettings | None = None
    """[notify]: default alert targets, which events, the SMTP server for mailto:."""
    stale_mirror_days: int | None = None
    """A host whose newest repository metadata is older than this is on a stale mirror
    (scan summary, console filter ``stale``, compliance reason ``stale-mirror``)."""
    source: Path | None = None
    """The file these came from (None: no file)."""

    @property
    def typed_confirm_limit(self) -> int:
        """``typed_confirm_above``, or the built-in default when the file does not set it."""
        return TYPED_CONFIRM_ABOVE if self.typed_confirm_above is None else self.typed_confirm_above

    @property
    def stale_mirror_limit(self) -> int:
        """``stale_mirror_days``, or the built-in default when the file does not set it."""
        return STALE_MIRROR_DAYS if self.stale_mirror_days is None else self.stale_mirror_days


def config_path() -> Path:
    return paths.config_dir() / CONFIG_FILE_NAME


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` (default: ``config_path()``); a missing file gives ``Config()``."""
    path = config_path() if path is None else Path(path)
    try:
        text = paths.read_input_text(path)
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file: {error}", where=str(path)) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate the TOML ``text`` of the config file at ``path`` (used in messages)."""
    where = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", where=where) from None
    except RecursionError:
        raise ConfigError("not valid TOML: nested too deeply", where=where) from None
    except ValueError as error:  # a number of thousands of digits; not a TOMLDecodeError
        raise ConfigError(f"not valid TOML: {str(error).split(';')[0]}", where=where) from None
    for section in document:
        if section not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{section}] (known: {', '.join(f'[{s}]' for s in _SECTIONS)})",
                where=where,
            )
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError("'defaults' must be a table: [defaults]", where=where)
    for key in defaults:
        if key not in _DEFAULT_KEYS:
            raise ConfigError(
                f"unknown key defaults.{key} (known: {', '.join(_DEFAULT_KEYS)})", where=where
            )
    return Config(
        concurrency=_concurrency(defaults.get("concurrency"), where),
        policy=_policy(defaults.get("policy"), path),
        theme=_text(defaults.get("theme"), "theme", where),
        host_key_policy=_host_key_policy(defaults.get("host_key_policy"), where),
        typed_confirm_above=_whole_number(
            defaults.get("typed_confirm_above"), "typed_confirm_above", where
        ),
        advisories_max_age_days=_whole_number(
            defaults.get("advisories_max_age_days"), "advisories_max_age_days", where
        ),
        min_severity=_min_severity(defaults.get("min_severity"), where),
        notify=_notify(document, path),
        stale_mirror_days=_whole_number(
            defaults.get("stale_mirror_days"), "stale_mirror_days", where
        ),
        source=path,
    )


def _notify(document: dict[str, object], path: Path) -> NotifySettings | None:
    if "notify" not in document:
        return None
    from patchtui.engine.notify import parse_notify_section

    return parse_notify_section(document["notify"], path)


_MIN_SEVERITIES = ("critical", "important", "high", "moderate", "medium", "low")


def _min_severity(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in _MIN_SEVERITIES:
        raise ConfigError(
            f"defaults.min_severity must be one of {', '.join(_MIN_SEVERITIES)}, got {value!r}",
            where=where,
        )
    return value.strip().lower()


def _concurrency(value: object, where: str) -> int | None:
    if value is None:
        return None
    # bool is an int in Python; `concurrency = true` is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f"defaults.concurrency must be a whole number of at least 1, got {value!r}",
            where=where,
        )
    return value


def _whole_number(value: object, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise ConfigError(
            f"defaults.{key} must be a whole number from 0 to 1000000, got {value!r}",
            where=where,
        )
    return value


def _text(value: object, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"defaults.{key} must be a non-empty string, got {value!r}", where=where)
    return value.strip()


def _policy(value: object, path: Path) -> Path | None:
    text = _text(value, "policy", str(path))
    if text is None:
        return None
    try:
        policy = paths.expand_user(text)
    except ValueError as error:
        raise ConfigError(f"defaults.policy {text!r}: {error}", where=str(path)) from None
    # Relative to the config file, not to wherever a cron job happens to start.
    return policy if policy.is_absolute() else (path.parent / policy).resolve()


def _host_key_policy(value: object, where: str) -> HostKeyPolicy | None:
    text = _text(value, "host_key_policy", where)
    if text is not None and text not in HOST_KEY_POLICIES:
        raise ConfigError(
            f"defaults.host_key_policy must be one of {', '.join(HOST_KEY_POLICIES)}, got {text!r}",
            where=where,
        )
    return "accept-new" if text == "accept-new" else ("strict" if text == "strict" else None)
