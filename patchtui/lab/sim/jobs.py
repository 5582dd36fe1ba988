"""Detached jobs, reboots and boot ids on simulated hosts, for every package family.

The engine runs installs through ``patchtui.transport.detached``: a base64
job script started under systemd-run or setsid, then polled. The lab
recognises exactly those commands (rebuilt with the same builders, so a
changed shape fails loudly instead of half-matching):

* ``start_command``: the job's inner command runs *now* through the host
  family's simulator, so package state changes at once, as a finished dpkg
  run would leave it. The job then "runs" for ``job_duration(job_id)``
  seconds, during which polls say ``running`` and show a growing part of its
  log; afterwards they show its exit status and the whole log.
* ``poll_command`` and ``stop_command``.
* ``REBOOT_COMMAND``: the host goes down for ``REBOOT_DOWNTIME`` seconds
  (``host.down_until``; the lab server refuses connections meanwhile and
  drops the open ones) and comes back with a new boot id, its newest
  installed kernel and no pending reboot.
* ``BOOT_ID_COMMAND``.

Faults: ``drop-during-install`` makes the first poll of a running job answer
with ``drop_connection`` (the job goes on and finishes on schedule);
``install-fails`` and ``dpkg-lock`` are the family simulators' business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
import uuid
from collections.abc import Callable

from patchtui.drivers.parsers.apk import kernel_release_of_package
from patchtui.engine.reboot import BOOT_ID_COMMAND, REBOOT_COMMAND
from patchtui.lab.sim import ShellResult
from patchtui.lab.state import SimHost, SimJob
from patchtui.transport.detached import (
    JOB_DIR,
    STARTED_MARKER,
    STATUS_MARKER,
    cleanup_command,
    job_script,
    poll_command,
    start_command,
    stop_command,
)

JOB_DURATION_RANGE: tuple[float, float] = (1.0, 3.0)
"""Seconds a simulated job 'runs'; tests patch this down to a fraction of a second."""
REBOOT_DOWNTIME = 2.0
"""Seconds a rebooting host refuses connections; tests patch this down."""
STOPPED_EXIT_STATUS = 143
"""What sh reports for a job killed by SIGTERM (128 + 15)."""

Runner = Callable[[SimHost, str], ShellResult]

_START_RE = re.compile(
    rf"^umask 077; mkdir -p {re.escape(JOB_DIR)} && printf %s (?P<encoded>[A-Za-z0-9+/=]+)"
    rf" \| base64 -d > {re.escape(JOB_DIR)}/(?P<job_id>[A-Za-z0-9_.-]+)\.sh && "
)
_POLL_RE = re.compile(
    rf"tail -n \+(?P<from_line>\d+) {re.escape(JOB_DIR)}/(?P<job_id>[A-Za-z0-9_.-]+)\.log "
)
_CLEANUP_RE = re.compile(rf"^rm -f {re.escape(JOB_DIR)}/(?P<job_id>[A-Za-z0-9_.-]+)\.sh ")
_STOP_RE = re.compile(r"^systemctl stop patchtui-(?P<job_id>[A-Za-z0-9_.-]+) 2>/dev/null")
_APT_KERNEL_RE = re.compile(r"^linux-image-(?P<release>\d+\.\d+\.\d+-\d+-[a-z0-9]+)$")
_UBUNTU_META_VERSION_RE = re.compile(r"^(?P<base>\d+\.\d+\.\d+)\.(?P<abi>\d+)\.\d+$")

# Jobs whose first poll must drop the connection (fault drop-during-install),
# keyed by (host, job id, start time) so a re-run of the same id starts afresh.
_drop_pending: set[tuple[str, str, float]] = set()


def handle(
    host: SimHost, command: str, run: Runner, now: float | None = None
) -> ShellResult | None:
    """Answer a job, reboot or boot-id command; None for anything else."""
    moment = time.time() if now is None else now
    if command == BOOT_ID_COMMAND:
        return ShellResult(stdout=f"{host.boot_id}\n")
    if command == REBOOT_COMMAND:
        reboot(host, moment)
        return ShellResult(stdout="reboot-scheduled\n")
    if match := _START_RE.match(command):
        return _start(host, command, match["encoded"], match["job_id"], run, moment)
    if match := _POLL_RE.search(command):
        job_id, from_line = match["job_id"], int(match["from_line"])
        if command == poll_command(job_id, from_line):
            return poll(host, job_id, from_line, moment)
    if (match := _CLEANUP_RE.match(command)) and command == cleanup_command(match["job_id"]):
        host.jobs.pop(match["job_id"], None)
        return ShellResult()
    if (match := _STOP_RE.match(command)) and command == stop_command(match["job_id"]):
        return _stop(host, match["job_id"], moment)
    return None


def job_duration(job_id: str) -> float:
    """A deterministic duration in JOB_DURATION_RANGE, different per job id."""
    low, high = JOB_DURATION_RANGE
    fraction = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return low + (high - low) * fraction


def inner_command(job_id: str, script: str) -> str | None:
    """The command a ``job_script`` runs, or None if ``script`` is not exactly one."""
    opening = f"echo $$ > {JOB_DIR}/{job_id}.pid\n( "
    closing = f"\n) > {JOB_DIR}/{job_id}.log 2>&1 < /dev/null\n"
    start = script.find(opening)
    end = script.rfind(closing)
    if start < 0 or end < start:
        return None
    command = script[start + len(opening) : end]
    return command if job_script(job_id, command) == script else None


def _start(
    host: SimHost, command: str, encoded: str, job_id: str, run: Runner, now: float
) -> ShellResult | None:
    try:
        script = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    inner = inner_command(job_id, script)
    if inner is None or start_command(job_id, inner) != command:
        return None
    # The job's stdout and stderr both go to its log (2>&1), in that order here.
    result = run(host, inner)
    log = (result.stdout + result.stderr).splitlines()
    job = SimJob(
        job_id=job_id,
        command=inner,
        pid=host.next_pid,
        started_at=now,
        finishes_at=now + job_duration(job_id),
        log=log,
        exit_status=result.exit_status,
    )
    host.next_pid += 1
    host.jobs[job_id] = job
    key = (host.name, job_id, now)
    if "drop-during-install" in host.faults:
        _drop_pending.add(key)
    return ShellResult(stdout=f"{STARTED_MARKER}\n")


def poll(host: SimHost, job_id: str, from_line: int, now: float) -> ShellResult:
    """``poll_command`` output: status line, then the log from ``from_line`` (1-based)."""
    job = host.jobs.get(job_id)
    if job is None:
        return ShellResult(stdout=f"{STATUS_MARKER} lost\n")
    first = max(from_line, 1) - 1
    if now < job.finishes_at:
        key = (host.name, job_id, job.started_at)
        if key in _drop_pending:
            _drop_pending.discard(key)
            return ShellResult(drop_connection=True)
        elapsed = (now - job.started_at) / max(job.finishes_at - job.started_at, 1e-9)
        shown = job.log[first : int(len(job.log) * max(0.0, min(elapsed, 1.0)))]
        return ShellResult(stdout=f"{STATUS_MARKER} running\n" + "".join(f"{x}\n" for x in shown))
    shown = job.log[first:]
    return ShellResult(
        stdout=f"{STATUS_MARKER} {job.exit_status}\n" + "".join(f"{x}\n" for x in shown)
    )


def _stop(host: SimHost, job_id: str, now: float) -> ShellResult:
    job = host.jobs.get(job_id)
    if job is not None and now < job.finishes_at:
        # The package state already changed at start; stopping only ends the wait.
        job.finishes_at = now
        job.exit_status = STOPPED_EXIT_STATUS
    return ShellResult()


def reboot(host: SimHost, now: float) -> None:
    """Take ``host`` down for REBOOT_DOWNTIME and bring it back as a freshly booted one."""
    host.down_until = now + REBOOT_DOWNTIME
    host.booted_at = host.down_until
    seed = f"{host.name}/{host.boot_id}/{now:.6f}".encode()
    host.boot_id = str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))
    host.reboot_required = False
    host.reboot_packages = []
    if kernel := newest_kernel(host):
        host.kernel = kernel
    for job in host.jobs.values():
        if job.finishes_at > now:
            # A job still 'running' at reboot never writes its status: lost.
            job.finishes_at = float("inf")


def newest_kernel(host: SimHost) -> str | None:
    """``uname -r`` of the newest installed kernel, where the family's packages encode it."""
    packages = host.packages
    if host.family == "apt":
        releases = [m["release"] for name in packages if (m := _APT_KERNEL_RE.match(name))]
        if releases:
            return max(releases, key=_natural_key)
        # Ubuntu's linux-image-generic 5.15.0.105.102 boots 5.15.0-105-generic.
        for flavour in ("generic", "virtual", "aws", "azure", "gcp", "lowlatency"):
            meta = packages.get(f"linux-image-{flavour}")
            if meta and (m := _UBUNTU_META_VERSION_RE.match(meta.installed)):
                return f"{m['base']}-{m['abi']}-{flavour}"
        return None  # Debian's linux-image-amd64 version does not name the ABI
    if host.family == "apk":
        for name, package in sorted(packages.items()):
            release = kernel_release_of_package(f"{name}-{package.installed}")
            if release is not None and release.rsplit("-", 1)[-1] == host.kernel.rsplit("-", 1)[-1]:
                return release
        return None
    if host.family in ("dnf", "yum"):
        el_kernel = packages.get("kernel-core") or packages.get("kernel")
        return f"{el_kernel.installed}.{el_kernel.arch}" if el_kernel else None
    if host.family == "zypper":
        suse_kernel = packages.get("kernel-default")
        if suse_kernel is None:
            return None
        # kernel-default 6.4.0-150600.23.7.3 runs as 6.4.0-150600.23.7-default.
        version, _, release = suse_kernel.installed.partition("-")
        return f"{version}-{release.rsplit('.', 1)[0]}-default" if release else None
    return None


def _natural_key(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]
