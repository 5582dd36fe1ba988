"""Pure parsers for dnf, yum and rpm output (RHEL/CentOS/Rocky/Alma/Fedora).

Everything here takes text (and sometimes an exit status) and returns data;
nothing runs a command. The formats are those of dnf 4, yum 3 (CentOS 7) and
dnf 5 where it differs; see tests/data/dnf and tests/data/yum for captured
examples of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KNOWN_ARCHES: frozenset[str] = frozenset(
    {
        "noarch",
        "x86_64",
        "i386",
        "i486",
        "i586",
        "i686",
        "aarch64",
        "armv7hl",
        "armhfp",
        "ppc64",
        "ppc64le",
        "s390",
        "s390x",
        "riscv64",
        "src",
    }
)
"""Architectures rpm-based distributions build for; used to tell a NEVRA from other text."""

# A printed EVR: optional epoch, a version, a dash, a release. dnf prints the
# epoch only when it is not zero ("1:3.0.7-25.el9"); yum 3 does the same.
_EVR_RE = re.compile(r"^(?:\d+:)?[^\s:-][^\s:]*-[^\s-]+$")

_LOCK_MARKERS: tuple[str, ...] = (
    "another app is currently holding the yum lock",
    "existing lock /var/run/yum.pid",
    "waiting for process with pid",
    # dnf 4 with exit_on_lock: "metadata already locked by 1234" (also rpmdb, download).
    "already locked by",
    "there was a problem with acquiring or releasing of locks",
    "can't create transaction lock",
)

_RPM_SEVERITIES: dict[str, str] = {
    "critical": "critical",
    "important": "important",
    "moderate": "moderate",
    "low": "low",
}


def normalise_severity(raw: str | None) -> str:
    """Map an OS severity word to one of patchtui.drivers.base.SEVERITIES."""
    if not raw:
        return "unknown"
    return _RPM_SEVERITIES.get(raw.strip().lower(), "unknown")


def is_lock_message(text: str) -> bool:
    """True if dnf/yum/rpm output says another process holds the package lock."""
    lowered = text.lower()
    return any(marker in lowered for marker in _LOCK_MARKERS)


@dataclass(frozen=True)
class CheckUpdateEntry:
    """One row of ``dnf/yum check-update``."""

    name: str
    arch: str
    version: str
    """The candidate EVR as printed: ``1:3.0.7-25.el9`` (epoch only when not zero)."""
    repository: str
    obsoleting: bool = False
    """True for a row from the "Obsoleting Packages" section: a new package
    that replaces an installed one of another name."""

    @property
    def key(self) -> str:
        return f"{self.name}.{self.arch}"


def split_name_arch(token: str) -> tuple[str, str] | None:
    """``openssl-libs.x86_64`` -> (``openssl-libs``, ``x86_64``); None if not that shape."""
    name, dot, arch = token.rpartition(".")
    if not dot or not name or not re.fullmatch(r"[A-Za-z0-9_]+", arch):
        return None
    return name, arch


def _row_from_tokens(tokens: list[str]) -> tuple[str, str, str, str] | None:
    """(name, arch, evr, repo) from the three fields of a check-update row, or None."""
    if len(tokens) != 3:
        return None
    name_arch = split_name_arch(tokens[0])
    if name_arch is None or not _EVR_RE.match(tokens[1]):
        return None
    return name_arch[0], name_arch[1], tokens[1], tokens[2]


def parse_check_update(text: str) -> list[CheckUpdateEntry]:
    """Parse the stdout of ``dnf check-update`` / ``yum check-update``.

    Rows are ``name.arch  evr  repo``. A name too long for its column is
    printed alone and the rest of the row follows on indented lines (yum 3
    and dnf 4 both do it), so fields are gathered until there are three.
    In the "Obsoleting Packages" section each new package is followed by
    the indented, installed package it obsoletes; those indented rows (and
    yum 3's unindented ``installed`` ones) are not updates. dnf lists every
    obsoleting version in ascending order, so the last one wins, and a
    package already in the upgrade list keeps its upgrade row.
    Header and plugin chatter is ignored.
    """
    upgrades: dict[str, CheckUpdateEntry] = {}
    obsoleting: dict[str, CheckUpdateEntry] = {}
    in_obsoletes = False
    pending: list[str] = []
    pending_indented = False

    def finish(tokens: list[str], indented: bool) -> None:
        row = _row_from_tokens(tokens)
        if row is None:
            return
        name, arch, evr, repo = row
        if in_obsoletes:
            # The obsoleted side is the installed package: indented under its
            # replacement (dnf, yum) or in repo "installed"/"@System" (yum 3).
            if indented or repo == "installed" or repo.startswith("@"):
                return
            entry = CheckUpdateEntry(name, arch, evr, repo, obsoleting=True)
            obsoleting[entry.key] = entry
        elif not indented:
            entry = CheckUpdateEntry(name, arch, evr, repo)
            upgrades[entry.key] = entry

    for raw in text.splitlines():
        if not raw.strip():
            continue
        if raw.strip().lower().startswith("obsoleting packages"):
            pending = []
            in_obsoletes = True
            continue
        indented = raw[:1].isspace()
        tokens = raw.split()
        if pending and indented:
            # Continuation of a row whose name filled the first column.
            pending.extend(tokens)
            if len(pending) >= 3:
                finish(pending, pending_indented)
                pending = []
            continue
        pending = []
        if indented and not in_obsoletes:
            continue  # e.g. " * base: mirror..." or a wrapped "Loaded plugins" line
        if len(tokens) < 3 and split_name_arch(tokens[0]) is not None:
            pending, pending_indented = tokens, indented
            continue
        finish(tokens, indented)

    merged = list(upgrades.values())
    merged.extend(entry for key, entry in obsoleting.items() if key not in upgrades)
    return merged


@dataclass(frozen=True)
class Nevra:
    name: str
    epoch: int
    version: str
    release: str
    arch: str

    @property
    def evr(self) -> str:
        """EVR printed the way dnf prints it: epoch only when not zero."""
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}"


def parse_nevra(token: str) -> Nevra | None:
    """Split ``openssl-1:3.0.7-25.el9_3.x86_64`` (epoch optional) into its parts."""
    body, dot, arch = token.rpartition(".")
    if not dot or arch not in KNOWN_ARCHES:
        return None
    parts = body.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    name, version, release = parts
    epoch = 0
    if ":" in version:
        epoch_text, _, version = version.partition(":")
        if not epoch_text.isdigit() or not version:
            return None
        epoch = int(epoch_text)
    if not version[0].isalnum():
        return None
    return Nevra(name, epoch, version, release, arch)


@dataclass(frozen=True)
class UpdateinfoEntry:
    """One row of ``dnf updateinfo list`` (or yum 3's ``updateinfo list``)."""

    advisory: str
    """RHSA-2024:1234, FEDORA-2024-..., ALSA-..., or a CVE id with ``--with-cve``/``cves``."""
    kind: str
    """security, bugfix, enhancement, newpackage, ... (lower case)."""
    severity: str | None
    """Normalised (one of SEVERITIES) for security rows; None otherwise."""
    package: Nevra

    @property
    def is_cve(self) -> bool:
        return self.advisory.upper().startswith("CVE-")


def parse_updateinfo_list(text: str) -> list[UpdateinfoEntry]:
    """Parse ``updateinfo list`` rows.

    dnf 4 and yum 3: ``ADVISORY  Important/Sec.  name-[epoch:]ver-rel.arch``
    (non-security rows say ``bugfix``/``enhancement``). dnf 5 prints
    ``ADVISORY  security  Important  nevra  YYYY-MM-DD HH:MM:SS``, so the
    package column is found by shape, not by position.
    """
    entries: list[UpdateinfoEntry] = []
    for raw in text.splitlines():
        tokens = raw.split()
        if len(tokens) < 3:
            continue
        package_index = next(
            (i for i in range(len(tokens) - 1, 0, -1) if parse_nevra(tokens[i]) is not None),
            None,
        )
        if package_index is None or package_index < 2:
            continue
        package = parse_nevra(tokens[package_index])
        assert package is not None
        advisory = tokens[0]
        if "-" not in advisory or not any(ch.isdigit() for ch in advisory):
            continue
        middle = tokens[1:package_index]
        kind = middle[0].lower()
        severity: str | None = None
        sec_token = next((t for t in middle if t.lower().endswith("/sec.")), None)
        if sec_token is not None:
            kind = "security"
            severity = normalise_severity(sec_token[: -len("/Sec.")])
        elif kind == "security":
            severity = normalise_severity(middle[1] if len(middle) > 1 else None)
        entries.append(UpdateinfoEntry(advisory, kind, severity, package))
    return entries


def parse_rpm_query(text: str) -> dict[str, str]:
    """Parse ``rpm -q --qf '%{NAME}.%{ARCH} <evr>\\n' ...`` into {name.arch: evr}.

    "package X is not installed" lines are skipped. With several installed
    versions (kernels) the newest wins.
    """
    installed: dict[str, str] = {}
    for raw in text.splitlines():
        tokens = raw.split()
        if len(tokens) != 2 or split_name_arch(tokens[0]) is None:
            continue
        key, evr = tokens
        if key not in installed or rpm_evr_compare(evr, installed[key]) > 0:
            installed[key] = evr
    return installed


# What needs-restarting -r prints with its verdict (LC_ALL=C): dnf-plugins-core
# (RHEL 8+, dnf 4) and yum-utils (CentOS/RHEL 7) word it differently; see
# tests/data/dnf/needs-restarting-* and tests/data/yum/needs-restarting-*.
_REBOOT_NEEDED_TEXTS = (
    "reboot is required to fully utilize these updates",  # dnf-plugins-core
    "reboot is required to ensure that your system benefits from these updates",  # yum-utils
)
_NO_REBOOT_TEXTS = (
    "reboot should not be necessary",  # dnf-plugins-core
    "reboot is probably not necessary",  # yum-utils
)


def needs_restarting_verdict(exit_status: int, output: str) -> bool | None:
    """Read ``needs-restarting -r`` by its text and its exit status (1 = reboot, 0 = not).

    The verdict needs both to agree: exit 1 alone also means an unknown command
    (dnf without the plugin: "No such command"), a missing option or any other
    error (a Python traceback, an rpmdb that cannot be opened), and exit 0 with
    no verdict line is no statement either. Anything else is unknown (None).
    """
    text = " ".join(output.lower().split())  # one line: the verdict may be wrapped
    says_needed = any(phrase in text for phrase in _REBOOT_NEEDED_TEXTS)
    says_not = any(phrase in text for phrase in _NO_REBOOT_TEXTS)
    if says_needed == says_not:
        return None
    if says_needed and exit_status == 1:
        return True
    if says_not and exit_status == 0:
        return False
    return None


def _split_segments(text: str) -> list[str]:
    return re.findall(r"[0-9]+|[A-Za-z]+|~|\^", text)


def rpm_version_compare(left: str, right: str) -> int:
    """rpmvercmp: compare two version (or release) strings; -1, 0 or 1."""
    if left == right:
        return 0
    a, b = _split_segments(left), _split_segments(right)
    while a or b:
        a_head, b_head = (a[0] if a else None), (b[0] if b else None)
        # '~' sorts before anything, even the end of the string.
        if "~" in (a_head, b_head):
            if a_head != b_head:
                return -1 if a_head == "~" else 1
            a, b = a[1:], b[1:]
            continue
        # '^' sorts after the end of the string but before any other segment.
        if "^" in (a_head, b_head):
            if a_head == b_head:
                a, b = a[1:], b[1:]
                continue
            if a_head is None or b_head is None:
                return 1 if a_head == "^" else -1
            return -1 if a_head == "^" else 1
        if a_head is None or b_head is None:
            return 1 if a_head is not None else -1
        a, b = a[1:], b[1:]
        if a_head.isdigit() != b_head.isdigit():
            return 1 if a_head.isdigit() else -1
        if a_head.isdigit():
            a_head, b_head = a_head.lstrip("0") or "0", b_head.lstrip("0") or "0"
            if len(a_head) != len(b_head):
                return 1 if len(a_head) > len(b_head) else -1
        if a_head != b_head:
            return 1 if a_head > b_head else -1
    return 0


def rpm_evr_compare(left: str, right: str) -> int:
    """Compare two ``[epoch:]version-release`` strings the way rpm does."""

    def split(evr: str) -> tuple[int, str, str]:
        epoch_text, colon, rest = evr.partition(":")
        if not colon:
            epoch_text, rest = "0", evr
        version, _, release = rest.partition("-")
        return int(epoch_text) if epoch_text.isdigit() else 0, version, release

    le, lv, lr = split(left)
    re_, rv, rr = split(right)
    if le != re_:
        return 1 if le > re_ else -1
    return rpm_version_compare(lv, rv) or rpm_version_compare(lr, rr)


# Patching ---------------------------------------------------------------------

_SIZE_UNITS: frozenset[str] = frozenset({"B", "k", "M", "G", "T", "KiB", "MiB", "GiB", "TiB"})
"""dnf 4 and yum print sizes as ``24 k``/``4.2 M``; dnf 5 as ``480.6 KiB``."""

# Section headers of a transaction table and what they do to a package. The
# ones not listed (Reinstalling, Skipping ..., Installing module profiles)
# change no version.
_SECTION_ACTIONS: tuple[tuple[str, str], ...] = (
    ("upgrading", "upgrade"),
    ("updating", "upgrade"),  # yum 3: "Updating:", "Updating for dependencies:"
    ("installing", "install"),  # also "Installing dependencies:" and installonly kernels
    ("downgrading", "downgrade"),
    ("removing", "remove"),
    ("erasing", "remove"),
    ("obsoleting", "skip"),
)


@dataclass(frozen=True)
class TransactionRow:
    """One package of a dnf/yum transaction table."""

    action: str
    """upgrade, install, downgrade or remove."""
    name: str
    arch: str
    version: str


def _section_action(line: str) -> str | None:
    """The action of a section header line ("Upgrading:"), "skip" for others, None if no header."""
    stripped = line.strip()
    if line[:1].isspace() or not stripped.endswith(":"):
        return None
    lowered = stripped.lower()
    for prefix, action in _SECTION_ACTIONS:
        if lowered.startswith(prefix):
            return action
    return "skip"


def _replaced_package(tokens: list[str]) -> tuple[str, str] | None:
    """(name, old version) of a ``replacing`` line, dnf 4's or dnf 5's; None if neither."""
    if len(tokens) == 3:
        name_arch = split_name_arch(tokens[1])
        if name_arch is not None and name_arch[1] in KNOWN_ARCHES and _EVR_RE.match(tokens[2]):
            return name_arch[0], tokens[2]
        return None
    if len(tokens) >= 4 and tokens[2] in KNOWN_ARCHES:
        return tokens[1], tokens[3]
    return None


def parse_transaction_table(text: str) -> tuple[list[TransactionRow], dict[str, str]]:
    """Parse the table dnf/yum print before asking "Is this ok [y/N]".

    Rows are `` name  arch  version  repository  size unit``; a long name or
    version pushes the rest of its row onto indented lines, so tokens are
    gathered until the size closes the row. A ``replacing`` line under a row
    names a package the row replaces, returned as the second value ({name:
    old version}): dnf 5 prints ``replacing name arch version repo size``
    (under an upgrade, the same name's old version; under an install, an
    obsoleted package), dnf 4 prints ``replacing  name.arch evr`` under an
    install that obsoletes another package. Neither is ever part of a row.
    """
    rows: list[TransactionRow] = []
    replaced: dict[str, str] = {}
    action: str | None = None
    gathered: list[str] = []
    for raw in text.splitlines():
        if raw.strip().lower().startswith("transaction summary"):
            break
        header = _section_action(raw)
        if header is not None:
            action, gathered = header, []
            continue
        if action is None or not raw.strip() or raw.lstrip().startswith("="):
            continue
        tokens = raw.split()
        if tokens[0] == "replacing":
            victim = _replaced_package(tokens)
            if victim is not None:
                replaced[victim[0]] = victim[1]
            # Never gathered: a short dnf 4 line would otherwise swallow the next row.
            continue
        if not raw[:1].isspace():
            # An unindented line that is not a header ends the table.
            action, gathered = None, []
            continue
        gathered.extend(tokens)
        if len(gathered) >= 6 and gathered[-1] in _SIZE_UNITS:
            if action != "skip" and gathered[1] in KNOWN_ARCHES:
                rows.append(TransactionRow(action, gathered[0], gathered[1], gathered[2]))
            gathered = []
    return rows, replaced


def parse_rpm_query_names(text: str) -> dict[str, str]:
    """``rpm -q --qf`` lines (``name.arch evr``) as {name: evr}; the newest arch wins.

    patchtui's patch interface keys packages by name; multilib twins
    (glibc.i686 and glibc.x86_64) are upgraded together, so the newest
    version stands for the name.
    """
    by_name: dict[str, str] = {}
    for key, evr in parse_rpm_query(text).items():
        name_arch = split_name_arch(key)
        if name_arch is None:
            continue
        name = name_arch[0]
        if name not in by_name or rpm_evr_compare(evr, by_name[name]) > 0:
            by_name[name] = evr
    return by_name


def _unindented_rpm_lines(text: str) -> str:
    """The lines of a combined output that can be ``rpm -q --qf`` rows (never indented)."""
    return "\n".join(
        line
        for line in text.splitlines()
        if line[:1] not in (" ", "\t") and len(line.split()) == 2 and is_rpm_query_row(line)
    )


def is_rpm_query_row(line: str) -> bool:
    """True for ``name.arch evr`` with a known arch and an EVR-shaped version."""
    tokens = line.split()
    name_arch = split_name_arch(tokens[0]) if tokens else None
    return (
        name_arch is not None
        and name_arch[1] in KNOWN_ARCHES
        and len(tokens) == 2
        and bool(_EVR_RE.match(tokens[1]))
    )


@dataclass(frozen=True)
class PlannedChange:
    name: str
    before: str | None
    after: str | None


def parse_dry_run(text: str) -> list[PlannedChange]:
    """Parse patchtui's dnf/yum dry run: ``rpm -q`` rows, then the ``--assumeno`` table.

    The rpm rows give the installed version of each target (dnf 4 and yum
    print only the new one); dnf 5's "replacing" lines of an upgrade are used
    when present. A replaced package with no row of its own is obsoleted by
    another one: the transaction removes it.
    """
    installed = parse_rpm_query_names(_unindented_rpm_lines(text))
    rows, replaced = parse_transaction_table(text)
    changes: list[PlannedChange] = []
    for row in rows:
        before = replaced.get(row.name, installed.get(row.name))
        if row.action == "remove":
            changes.append(PlannedChange(row.name, before or row.version, None))
        else:
            changes.append(PlannedChange(row.name, before, row.version))
    in_rows = {row.name for row in rows}
    changes.extend(
        PlannedChange(name, version, None)
        for name, version in replaced.items()
        if name not in in_rows
    )
    return changes


# Failures -----------------------------------------------------------------------

ROLLBACK_BANNER = "patchtui: restoring recorded versions (downgrade)"
"""Echoed first by every rollback command: the operator sees what runs, and a
failure's log says it was a downgrade (an unavailable version is then an old
one that the repositories no longer offer)."""

_UNAVAILABLE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"No match for argument:?\s+(?P<spec>\S+)", re.IGNORECASE),
    re.compile(r"No package (?P<spec>\S+) available", re.IGNORECASE),
    re.compile(r"Unable to find a match:?\s+(?P<spec>\S+)", re.IGNORECASE),
    re.compile(r"No packages? to downgrade for argument:?\s+(?P<spec>\S+)", re.IGNORECASE),
)


def split_name_version_spec(spec: str) -> tuple[str, str | None]:
    """``openssl-libs-1:3.0.7-24.el9`` -> (``openssl-libs``, ``1:3.0.7-24.el9``).

    A spec without a ``[epoch:]version-release`` tail is returned as (spec, None).
    """
    parts = spec.rsplit("-", 2)
    if len(parts) == 3 and all(parts) and parts[1].split(":", 1)[-1][:1].isdigit():
        return parts[0], f"{parts[1]}-{parts[2]}"
    return spec, None


def unavailable_specs(log: str) -> list[str]:
    """Package specs dnf/yum said they could not find, in order, without repeats."""
    found: dict[str, None] = {}
    for pattern in _UNAVAILABLE_PATTERNS:
        for match in pattern.finditer(log):
            found[match.group("spec").strip("'\".")] = None
    return list(found)


def last_error_line(lines: list[str]) -> str:
    """The most telling line of a failed run: the last ``Error:``/``error:`` line, else the last."""
    for line in reversed(lines):
        stripped = line.strip()
        if stripped.lower().startswith("error"):
            return stripped
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def classify_failure(
    exit_status: int, lines: list[str], *, lock_exit: int = 200
) -> tuple[str, str]:
    """(kind, message) for a failed dnf/yum install, upgrade or downgrade.

    kinds: ``locked`` (another dnf/yum/rpm holds the lock), ``unavailable``
    (a requested version is not in the host's repositories: for a rollback,
    the old version was removed from the mirror), ``failed`` (anything else,
    with the last error line).
    """
    text = "\n".join(lines)
    if exit_status == lock_exit or is_lock_message(text):
        # The line naming the holder's pid is the one an operator acts on.
        lock_lines = [line.strip() for line in lines if is_lock_message(line) or "lock" in line]
        holder = next((line for line in lock_lines if "pid" in line), "")
        holder = holder or next(iter(lock_lines), f"exit {exit_status}")
        return "locked", f"package manager lock held by another process: {holder}"[:300]
    specs = unavailable_specs(text)
    if specs:
        downgrade = ROLLBACK_BANNER in text
        described = []
        for spec in specs:
            name, version = split_name_version_spec(spec)
            if version is None:
                described.append(f"{name} is not available from the host's repositories")
            elif downgrade:
                described.append(
                    f"old version {version} of {name} is no longer available "
                    "from the host's repositories"
                )
            else:
                described.append(
                    f"version {version} of {name} is not available from the host's repositories"
                )
        return "unavailable", "; ".join(described)[:300]
    message = f"exit status {exit_status}: {last_error_line(lines)}"
    # rpm's own "error: ..." line (full disk, file conflict) says why the
    # transaction failed; dnf's closing "Error: Transaction failed" does not.
    cause = next((line.strip() for line in lines if line.startswith("error: ")), None)
    if cause and cause not in message:
        message += f" ({cause})"
    return "failed", message[:300]
