"""Compliance policy: what "compliant" means, the built-in default, and the YAML loader.

The default is as strict as AWS Systems Manager's patch compliance: any missing
security update, any pending reboot and any scan older than 24 hours make a
host non-compliant. A policy file relaxes it::

    # every key is optional; anything left out keeps the strict default
    name: production
    security_grace_days:          # or one number for every severity
      default: 14
      critical: 3
      important: 7
    any_update_grace_days: 60     # null (the default): other updates are not enforced
    reboot_grace_days: 2
    scan_max_age_hours: 48        # null: scan age is not enforced
    exceptions:
      - host: "legacy-*"          # glob; leave out for every host
        package: "openssl*"       # glob; leave out to waive the whole host
        reason: "vendor certifies 3.0 only; ticket SEC-1234"
        expires: 2026-06-30       # inclusive, UTC; expired exceptions stop applying

Every error names ``<file>:<line>`` so the operator can go straight to it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from patchtui.errors import ConfigError
from patchtui.paths import read_input_text
from patchtui.safeyaml import BoundedSafeLoader, open_loader, problem_text, shorten

SEVERITIES: tuple[str, ...] = ("critical", "important", "moderate", "low", "unknown")
"""Same order and names as ``patchtui.drivers.base.SEVERITIES`` (kept here: policy is pure data)."""


@dataclass(frozen=True)
class PolicyException:
    """A waiver: ``package_glob`` on hosts matching ``host_glob`` is not held to the policy.

    ``host_glob`` None means every host; ``package_glob`` None means the whole host
    (every reason, including reboot and scan age). The waiver applies up to and
    including ``expires`` (a UTC date); after that it is reported as expired.
    """

    host_glob: str | None
    package_glob: str | None
    reason: str
    expires: dt.date
    where: str = ""
    """``file:line`` the exception came from, for the report ('' for code-built ones)."""

    # Compiled once per exception: evaluating 10,000 hosts must not re-translate globs.
    _host_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)
    _package_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.host_glob is not None:
            object.__setattr__(self, "_host_re", re.compile(fnmatch.translate(self.host_glob)))
        if self.package_glob is not None:
            object.__setattr__(
                self, "_package_re", re.compile(fnmatch.translate(self.package_glob))
            )

    @property
    def whole_host(self) -> bool:
        return self.package_glob is None

    def matches_host(self, host: str) -> bool:
        return self._host_re is None or self._host_re.match(host) is not None

    def matches_package(self, package: str) -> bool:
        return self._package_re is None or self._package_re.match(package) is not None

    def active_on(self, day: dt.date) -> bool:
        return day <= self.expires

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host_glob,
            "package": self.package_glob,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
        }


Exception_ = PolicyException
"""Short alias used in design notes; prefer ``PolicyException`` (no builtin look-alike)."""


@dataclass(frozen=True)
class Policy:
    """What a host must satisfy. Grace periods are in days, ages in hours; None = not enforced.

    A grace of 0 means "not allowed at all" (any pending item is a violation); a
    grace of N > 0 means "allowed while pending for no longer than N days".
    """

    security_grace_days: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(SEVERITIES, 0.0)
    )
    """Per severity (every name in SEVERITIES present); updates without severity use 'unknown'."""
    any_update_grace_days: float | None = None
    reboot_grace_days: float = 0.0
    scan_max_age_hours: float | None = 24.0
    exceptions: tuple[PolicyException, ...] = ()
    name: str = "default"
    source: str = "built-in default"
    """Where the policy came from (file path or 'built-in default'), shown in reports."""

    def security_grace(self, severity: str | None) -> float:
        return self.security_grace_days.get(
            severity or "unknown", self.security_grace_days.get("unknown", 0.0)
        )


DEFAULT_POLICY = Policy()
"""SSM-strict: no missing security update, no pending reboot, a scan within 24 h."""


def policy_to_dict(policy: Policy) -> dict[str, object]:
    """The policy as plain data, for reports ("which rules were applied")."""
    return {
        "name": policy.name,
        "source": policy.source,
        "security_grace_days": {sev: policy.security_grace(sev) for sev in SEVERITIES},
        "any_update_grace_days": policy.any_update_grace_days,
        "reboot_grace_days": policy.reboot_grace_days,
        "scan_max_age_hours": policy.scan_max_age_hours,
        "exceptions": [exception.to_dict() for exception in policy.exceptions],
    }


# --- loading -----------------------------------------------------------------------------------

_TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "security_grace_days",
        "any_update_grace_days",
        "reboot_grace_days",
        "scan_max_age_hours",
        "exceptions",
    }
)
_EXCEPTION_KEYS = frozenset({"host", "package", "reason", "expires"})


def load_policy(path: str | Path) -> Policy:
    """Read a policy file; raises ConfigError (``where`` = ``file:line``) on any problem."""
    path = Path(path)
    try:
        text = read_input_text(path)
    except OSError as error:
        raise ConfigError(
            f"cannot read policy file: {error.strerror or error}", where=str(path)
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("policy file is not UTF-8 text", where=str(path)) from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse policy YAML text; ``source`` names it in errors and in the report."""
    loader: BoundedSafeLoader | None = None
    try:
        loader = open_loader(BoundedSafeLoader, text)
        root = loader.get_single_node()
        # Scalars are constructed while reading (a bad date or a 5,000-digit
        # number raises there), so the reader is inside the same try.
        return _Reader(loader, source).policy(root)
    except yaml.YAMLError as error:
        problem, line = problem_text(error)
        raise ConfigError(f"invalid YAML: {problem}", where=f"{source}:{line or 1}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the composed YAML nodes so every value keeps its line number."""

    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source

    def fail(self, node: Node, message: str) -> ConfigError:
        return ConfigError(message, where=f"{self.source}:{_line(node)}")

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            return node  # callers check the type and report it with its line
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str, allowed: frozenset[str]) -> dict[str, Node]:
        """{key: value node}, refusing non-mappings, unknown and duplicate keys."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        found: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"{what}: keys must be names")
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(key_node, f"{what}: unknown key {key!r} (known: {known})")
            if key in found:
                raise self.fail(key_node, f"{what}: duplicate key {key!r}")
            found[key] = value_node
        return found

    def number_or_null(self, node: Node, what: str) -> float | None:
        if isinstance(node, ScalarNode) and self.scalar(node) is None:
            return None
        return self.number(node, what, expected="a number or null")

    def number(self, node: Node, what: str, *, expected: str = "a number") -> float:
        value = self.scalar(node)
        # bool is an int subclass: "yes" must not become a one-day grace.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"{what} must be {expected}, not {_shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number) or number < 0:
            raise self.fail(node, f"{what} must be a finite number >= 0, not {_shown(value)}")
        return number

    def text(self, node: Node, what: str, *, allow_null: bool = False) -> str | None:
        value = self.scalar(node)
        if value is None and allow_null:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be non-empty text, not {_shown(value)}")
        return value.strip()

    def date(self, node: Node, what: str) -> dt.date:
        value = self.scalar(node)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(node, f"{what} must be a date like 2026-06-30, not {_shown(value)}")

    def policy(self, root: Node | None) -> Policy:
        if root is None:  # an empty file is the default policy, named after the file
            return Policy(name=Path(self.source).stem, source=self.source)
        top = self.mapping(root, "policy", _TOP_KEYS)
        name = Path(self.source).stem
        if "name" in top:
            name = self.text(top["name"], "name") or name
        if "description" in top:
            self.text(top["description"], "description", allow_null=True)
        grace = dict(DEFAULT_POLICY.security_grace_days)
        if "security_grace_days" in top:
            grace = self.security_grace(top["security_grace_days"])
        any_update = DEFAULT_POLICY.any_update_grace_days
        if "any_update_grace_days" in top:
            any_update = self.number_or_null(top["any_update_grace_days"], "any_update_grace_days")
        reboot = DEFAULT_POLICY.reboot_grace_days
        if "reboot_grace_days" in top:
            reboot = self.number(top["reboot_grace_days"], "reboot_grace_days")
        scan_age = DEFAULT_POLICY.scan_max_age_hours
        if "scan_max_age_hours" in top:
            scan_age = self.number_or_null(top["scan_max_age_hours"], "scan_max_age_hours")
        exceptions: tuple[PolicyException, ...] = ()
        if "exceptions" in top:
            exceptions = self.exceptions(top["exceptions"])
        return Policy(
            security_grace_days=grace,
            any_update_grace_days=any_update,
            reboot_grace_days=reboot,
            scan_max_age_hours=scan_age,
            exceptions=exceptions,
            name=name,
            source=self.source,
        )

    def security_grace(self, node: Node) -> dict[str, float]:
        if isinstance(node, ScalarNode):
            days = self.number(node, "security_grace_days")
            return dict.fromkeys(SEVERITIES, days)
        keys = self.mapping(node, "security_grace_days", frozenset({"default", *SEVERITIES}))
        default = 0.0
        if "default" in keys:
            default = self.number(keys["default"], "security_grace_days.default")
        grace = dict.fromkeys(SEVERITIES, default)
        for severity in SEVERITIES:
            if severity in keys:
                days = self.number(keys[severity], f"security_grace_days.{severity}")
                grace[severity] = days
        return grace

    def exceptions(self, node: Node) -> tuple[PolicyException, ...]:
        if isinstance(node, ScalarNode) and self.scalar(node) is None:
            return ()
        if not isinstance(node, SequenceNode):
            raise self.fail(node, "exceptions must be a list")
        found: list[PolicyException] = []
        for index, item in enumerate(node.value, start=1):
            what = f"exception #{index}"
            keys = self.mapping(item, what, _EXCEPTION_KEYS)
            for required in ("reason", "expires"):
                if required not in keys:
                    raise self.fail(item, f"{what}: missing {required!r} (every waiver needs one)")
            host = (
                self.text(keys["host"], f"{what}: host", allow_null=True)
                if "host" in keys
                else None
            )
            package = (
                self.text(keys["package"], f"{what}: package", allow_null=True)
                if "package" in keys
                else None
            )
            if host is None and package is None:
                # Waiving every package on every host would switch compliance off silently.
                raise self.fail(item, f"{what}: needs a host or a package (or both)")
            reason = self.text(keys["reason"], f"{what}: reason")
            found.append(
                PolicyException(
                    host_glob=host,
                    package_glob=package,
                    reason=reason or "",
                    expires=self.date(keys["expires"], f"{what}: expires"),
                    where=f"{self.source}:{_line(item)}",
                )
            )
        return tuple(found)


def _shown(value: object) -> str:
    if isinstance(value, Node):
        if isinstance(value, MappingNode):
            return "a mapping"
        return "a list" if isinstance(value, SequenceNode) else "a node"
    if value is None:
        return "null"
    return shorten(repr(value))
