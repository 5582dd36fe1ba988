"""Package-by-host preview: which package goes to which hosts at which version.

Pure functions over what the planning code already decided: a dry run's planned
changes (``HostFinished.changes`` of a ``--dry-run`` PatchJob, baselines, holds and
excludes applied by the engine itself), or, in the console before anything runs, the
engine's own selection (``selection_for`` + ``Selection.choose``/``targets``) applied to
each host's last scan. Hosts that would get the identical set of (package, version)
form one row, so a fleet of 200 identical web servers is one line, and the odd host
out stands alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from patchtui.advisories.osv import annotate_updates
from patchtui.drivers.base import PackageChange, PendingUpdate
from patchtui.engine.events import HostFinished
from patchtui.engine.patch import PatchOptions, selection_for
from patchtui.inventory.model import Host

PackageVersion = tuple[str, str | None]
"""(package, version it goes to); None: the package is removed."""


@dataclass(frozen=True)
class MatrixRow:
    """Hosts that get exactly the same packages at the same versions."""

    hosts: tuple[str, ...]
    packages: tuple[PackageVersion, ...]

    @property
    def count(self) -> int:
        return len(self.hosts)


@dataclass(frozen=True)
class Matrix:
    rows: tuple[MatrixRow, ...]
    unplanned: tuple[tuple[str, str], ...] = ()
    """(host, why): hosts with no plan (skipped, failed, unreachable, never scanned)."""

    @property
    def hosts(self) -> int:
        return sum(row.count for row in self.rows)

    @property
    def packages(self) -> tuple[str, ...]:
        """Every package that goes anywhere, sorted."""
        return tuple(sorted({name for row in self.rows for name, _ in row.packages}))

    def to_json(self) -> list[dict[str, object]]:
        """One object per row, then a summary (the headless --json lines)."""
        lines: list[dict[str, object]] = [
            {
                "type": "matrix_row",
                "count": row.count,
                "hosts": list(row.hosts),
                "packages": [{"name": name, "version": version} for name, version in row.packages],
            }
            for row in self.rows
        ]
        lines.extend(
            {"type": "matrix_unplanned", "host": host, "reason": reason}
            for host, reason in self.unplanned
        )
        lines.append(
            {
                "type": "matrix_summary",
                "rows": len(self.rows),
                "hosts": self.hosts,
                "packages": len(self.packages),
                "unplanned": len(self.unplanned),
            }
        )
        return lines


def build_matrix(
    planned: Mapping[str, Iterable[PackageVersion]],
    unplanned: Mapping[str, str] | None = None,
) -> Matrix:
    """Group hosts by their identical set of (package, version).

    Rows with more hosts come first (the bulk of the fleet), then by first host name;
    a host with nothing to install is a row with no packages, not left out.
    """
    groups: dict[tuple[PackageVersion, ...], list[str]] = {}
    for host, changes in planned.items():
        key = tuple(sorted(set(changes), key=lambda item: (item[0], item[1] or "")))
        groups.setdefault(key, []).append(host)
    rows = [MatrixRow(tuple(sorted(hosts)), key) for key, hosts in groups.items()]
    rows.sort(key=lambda row: (-row.count, row.hosts))
    return Matrix(tuple(rows), tuple(sorted((unplanned or {}).items())))


def _versions(changes: Iterable[PackageChange]) -> list[PackageVersion]:
    return [(change.name, change.after) for change in changes]


def matrix_from_results(finished: Iterable[HostFinished]) -> Matrix:
    """The matrix of a dry run from its hosts' results (planned changes)."""
    planned: dict[str, list[PackageVersion]] = {}
    unplanned: dict[str, str] = {}
    for event in finished:
        if event.result == "planned":
            planned[event.host] = _versions(event.changes)
        else:
            reason = event.result or event.state.value
            if event.error:
                reason += f": {event.error}"
            unplanned[event.host] = reason
    return build_matrix(planned, unplanned)


def _package_text(packages: Sequence[PackageVersion]) -> str:
    if not packages:
        return "(nothing to install)"
    return ", ".join(
        f"{name} {version}" if version is not None else f"{name} (removed)"
        for name, version in packages
    )


def _hosts_text(hosts: Sequence[str], shown: int) -> str:
    text = ", ".join(hosts[:shown])
    return text + (f", … (+{len(hosts) - shown})" if len(hosts) > shown else "")


def matrix_lines(
    matrix: Matrix,
    *,
    shown_hosts: int = 6,
    max_rows: int | None = None,
    max_packages: int | None = None,
) -> list[str]:
    """The matrix as text lines (console review, headless table): one block per row;
    ``max_rows``/``max_packages`` keep a dialog to one screen and say what they leave out."""
    head = f"{matrix.hosts} hosts in {len(matrix.rows)} groups, {len(matrix.packages)} packages"
    if matrix.unplanned:
        head += f"; {len(matrix.unplanned)} hosts not planned"
    lines = [head + ":"]
    rows = matrix.rows if max_rows is None else matrix.rows[:max_rows]
    for row in rows:
        noun = "host" if row.count == 1 else "hosts"
        lines.append(f"  {row.count} {noun}: {_hosts_text(row.hosts, shown_hosts)}")
        packages = row.packages
        more = ""
        if max_packages is not None and len(packages) > max_packages:
            more = f", … (+{len(packages) - max_packages} packages)"
            packages = packages[:max_packages]
        lines.append(f"    {_package_text(packages)}{more}")
    if len(rows) < len(matrix.rows):
        hidden = matrix.rows[len(rows) :]
        lines.append(f"  … {len(hidden)} more groups ({sum(row.count for row in hidden)} hosts)")
    for host, reason in matrix.unplanned:
        lines.append(f"  not planned: {host} ({reason})")
    return lines


def matrix_table_rows(matrix: Matrix) -> list[list[object]]:
    """Rows for headless ``render_table(["COUNT", "HOSTS", "PACKAGES"], ...)`` (every
    host is in the --json lines; the table names the first few of a big row)."""
    rows: list[list[object]] = [
        [row.count, _hosts_text(row.hosts, 8), _package_text(row.packages)] for row in matrix.rows
    ]
    rows.extend([0, host, f"not planned: {reason}"] for host, reason in matrix.unplanned)
    return rows


Release = tuple[str, str]
"""(os_id, os_version) of a host, for the advisories' severities."""


def planned_from_scan(
    host: Host, pending: Sequence[PendingUpdate], options: PatchOptions, release: Release | None
) -> list[PackageVersion]:
    """What a patch run with ``options`` would install on ``host``, judged from its last
    scan by the run's own selection code (holds, --packages, --exclude, severity)."""
    if options.advisories is not None and release is not None:
        pending = annotate_updates(pending, release[0], release[1], options.advisories)
    selection = selection_for(host, options.selection)
    chosen, _excluded = selection.choose(pending)
    by_name = {update.name: update.candidate for update in chosen}
    return [
        (target.name, target.version or by_name.get(target.name))
        for target in selection.targets(chosen)
    ]


def matrix_from_scans(
    hosts: Sequence[Host],
    scans: Mapping[str, tuple[Sequence[PendingUpdate], Release | None] | None],
    options: PatchOptions,
) -> Matrix | None:
    """The preview before a run, from each host's last scan (None: never scanned).

    None when a baseline decides the versions: that needs each host's installed
    versions of the baseline's packages, which only the dry run reads.
    """
    if options.baseline is not None:
        return None
    planned: dict[str, list[PackageVersion]] = {}
    unplanned: dict[str, str] = {}
    for host in hosts:
        scan = scans.get(host.name)
        if scan is None:
            unplanned[host.name] = "not scanned"
        else:
            planned[host.name] = planned_from_scan(host, scan[0], options, scan[1])
    return build_matrix(planned, unplanned)
