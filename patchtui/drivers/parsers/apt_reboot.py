"""Does a Debian or Ubuntu host need a reboot? Parse the apt driver's reboot check. Pure.

``/run/reboot-required`` alone misses kernels on plain Debian: the file is
written by update-notifier-common's hooks, which Debian does not install by
default, so a host that installed a new kernel package and kept running the
old one says nothing. The check therefore prints four sections (see
``patchtui.drivers.apt.REBOOT_CHECK_COMMAND``), each after a marker line
``patchtui-reboot <section>``:

* ``flag``: ``reboot-required`` and the lines of ``/run/reboot-required.pkgs``,
  or ``no-reboot-required``;
* ``notifier``: ``present`` when update-notifier's ``notify-reboot-required``
  exists, i.e. when a missing flag file really means "nothing asked";
* ``uname``: ``uname -r``, the running kernel release;
* ``needrestart``: ``needrestart -b -k`` output, then ``patchtui-reboot
  needrestart-exit N`` (no exit line: needrestart is not installed). Its batch
  format (README.batch.md of needrestart)::

      NEEDRESTART-VER: 3.6
      NEEDRESTART-KCUR: 6.1.0-20-amd64
      NEEDRESTART-KEXP: 6.1.0-21-amd64
      NEEDRESTART-KSTA: 3
      NEEDRESTART-SVC: systemd-journald.service

  KSTA: 0 unknown, 1 no pending upgrade, 2 ABI-compatible upgrade pending
  (same release string, new build), 3 version upgrade pending. KEXP is
  missing when no kernel image was found; inside a container needrestart
  skips the kernel check and prints no K lines at all;
* ``kernels``: ``dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'
  'linux-image-*'``: one line per known kernel package, e.g.
  ``linux-image-6.1.0-21-amd64\\t6.1.90-1\\tii `` (Debian) or
  ``linux-image-5.15.0-105-generic\\t5.15.0-105.115\\tii `` (Ubuntu), together
  with metapackages (``linux-image-amd64``, ``linux-image-generic``) that
  name no release and are skipped.

A reboot is needed when any source says so; not needed when a source that can
tell says not; otherwise unknown (None), never a guessed "no".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchtui.drivers.versions import compare_versions

SECTION_MARK = "patchtui-reboot"
"""Marker word of the lines between sections: ``patchtui-reboot <section>``."""
NEEDRESTART_EXIT = "needrestart-exit"
"""``patchtui-reboot needrestart-exit N``: needrestart ran and exited N."""
REBOOT_REQUIRED_MARK = "reboot-required"
NO_REBOOT_REQUIRED_MARK = "no-reboot-required"
NOTIFIER_PRESENT = "present"

KSTA_UNKNOWN = 0
KSTA_NO_UPGRADE = 1
KSTA_ABI_UPGRADE = 2
KSTA_VERSION_UPGRADE = 3

# Installed for our purpose: dpkg's second status letter i (installed), or
# W/t (installed, only triggers pending). rc, half-installed etc. do not boot.
_INSTALLED_STATES = frozenset("iWt")

# A kernel release as uname -r prints it and Debian/Ubuntu name packages:
# 6.1.0-21-amd64, 6.1.0-21-cloud-amd64, 6.12.43+deb13-amd64, 6.12.9+bpo-amd64,
# 5.15.0-105-generic, 6.5.0-1025-oem. The flavour is everything after the
# version, beginning with a letter.
_RELEASE_RE = re.compile(
    r"^(?P<version>\d+(?:\.\d+)+(?:[-+~](?:\d[0-9.]*|[a-z]+\d*))*?)-(?P<flavour>[a-z][a-z0-9-]*)$"
)
# linux-image-<release>[-unsigned] (Debian), linux-image-unsigned-<release>
# (Ubuntu); -dbg/-dbgsym hold debug symbols, not a bootable kernel.
_KERNEL_PACKAGE_RE = re.compile(r"^linux-image-(?:unsigned-)?(?P<release>\d\S*?)(?:-unsigned)?$")
_DEBUG_SUFFIXES = ("-dbg", "-dbgsym")


@dataclass(frozen=True)
class KernelRelease:
    """A kernel release split into its version and flavour (``6.1.0-21`` / ``amd64``)."""

    release: str
    version: str
    flavour: str


def split_release(release: str) -> KernelRelease | None:
    """``6.1.0-21-amd64`` -> (``6.1.0-21``, ``amd64``); None for an unknown shape."""
    match = _RELEASE_RE.match(release.strip())
    if not match:
        return None
    return KernelRelease(release.strip(), match["version"], match["flavour"])


def kernel_release_of_package(name: str) -> str | None:
    """``linux-image-6.1.0-21-amd64`` -> ``6.1.0-21-amd64``; None for metapackages etc."""
    if name.endswith(_DEBUG_SUFFIXES):
        return None
    match = _KERNEL_PACKAGE_RE.match(name)
    return match["release"] if match else None


@dataclass(frozen=True)
class Needrestart:
    """What ``needrestart -b`` printed (the lines patchtui reads)."""

    version: str | None = None
    running: str | None = None
    """KCUR: the running kernel release."""
    expected: str | None = None
    """KEXP: the newest kernel found in /boot."""
    status: int | None = None
    """KSTA (0-3); None when no KSTA line (e.g. kernel check skipped in a container)."""
    services: tuple[str, ...] = ()
    """SVC lines: services running outdated code (only without -k)."""

    @property
    def reboot_required(self) -> bool | None:
        if self.status in (KSTA_ABI_UPGRADE, KSTA_VERSION_UPGRADE):
            return True
        if self.status == KSTA_NO_UPGRADE:
            return False
        return None


def parse_needrestart(output: str) -> Needrestart:
    """Parse ``needrestart -b`` batch output; unknown lines (UCSTA, CONT, SESS, PID) are skipped."""
    fields: dict[str, str] = {}
    services: list[str] = []
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("NEEDRESTART-"):
            continue
        name, value = key[len("NEEDRESTART-") :], value.strip()
        if name == "SVC":
            if value:
                services.append(value)
        else:
            fields.setdefault(name, value)
    status_text = fields.get("KSTA", "")
    return Needrestart(
        version=fields.get("VER") or None,
        running=fields.get("KCUR") or None,
        expected=fields.get("KEXP") or None,
        status=int(status_text) if status_text.isdigit() else None,
        services=tuple(services),
    )


@dataclass(frozen=True)
class InstalledKernel:
    package: str
    version: str
    release: KernelRelease


def parse_kernel_packages(output: str) -> list[InstalledKernel]:
    """The installed kernels among the ``dpkg-query -W -f=...`` lines of the kernels section.

    Metapackages, debug symbols and removed (``rc``) or unknown (``un``) packages are left out.
    """
    kernels: list[InstalledKernel] = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        name, version, status = fields[0].strip(), fields[1].strip(), fields[2]
        if len(status) < 2 or status[1] not in _INSTALLED_STATES or not version:
            continue
        release_text = kernel_release_of_package(name)
        release = split_release(release_text) if release_text else None
        if release is not None:
            kernels.append(InstalledKernel(name, version, release))
    return kernels


@dataclass(frozen=True)
class KernelComparison:
    """The running kernel against the newest installed one of its flavour."""

    running: str
    newest: str | None
    """Release of the newest installed kernel of the running flavour (None: none found)."""

    @property
    def reboot_required(self) -> bool | None:
        """True when a newer kernel is installed; None when it cannot be told.

        None: no installed kernel package of the running flavour (containers,
        custom kernels), or the running kernel is newer than every installed
        one (its package was removed, or it was built by hand).
        """
        running = split_release(self.running)
        if running is None or self.newest is None:
            return None
        newest = split_release(self.newest)
        assert newest is not None  # only parsed releases get here
        order = compare_versions(newest.version, running.version)
        if order > 0:
            return True
        return False if order == 0 else None


def compare_kernels(running: str, installed: list[InstalledKernel]) -> KernelComparison:
    """Find the newest installed kernel of the running kernel's flavour."""
    parsed = split_release(running)
    if parsed is None:
        return KernelComparison(running.strip(), None)
    same_flavour = [k.release for k in installed if k.release.flavour == parsed.flavour]
    if not same_flavour:
        return KernelComparison(parsed.release, None)
    newest = same_flavour[0]
    for release in same_flavour[1:]:
        if compare_versions(release.version, newest.version) > 0:
            newest = release
    return KernelComparison(parsed.release, newest.release)


@dataclass(frozen=True)
class RebootCheck:
    """Everything the reboot check printed, and the verdict drawn from it."""

    flag_file: bool
    """``/run/reboot-required`` exists."""
    flag_packages: tuple[str, ...]
    notifier: bool
    """update-notifier maintains the flag file on this host."""
    running: str | None
    needrestart: Needrestart | None
    """None: needrestart is not installed (or did not run)."""
    needrestart_exit: int | None
    kernels: KernelComparison | None
    complete: bool
    """Every section was printed (a cut-off or refused command is not)."""

    @property
    def reboot_required(self) -> bool | None:
        """True if any source says so; False if one that can tell says not; else None."""
        verdicts = [
            True if self.flag_file else (False if self.notifier else None),
            self.needrestart.reboot_required if self.needrestart is not None else None,
            self.kernels.reboot_required if self.kernels is not None else None,
        ]
        if True in verdicts:
            return True
        if not self.complete:
            return None
        return False if False in verdicts else None

    @property
    def reason(self) -> str | None:
        """Why a reboot is needed, in one line (None when it is not or unknown)."""
        if not self.reboot_required:
            return None
        parts: list[str] = []
        if self.flag_file:
            parts.append(
                "reboot requested by: " + " ".join(self.flag_packages)
                if self.flag_packages
                else "/run/reboot-required exists"
            )
        kernel = self._newer_kernel()
        if kernel:
            parts.append(kernel)
        return "; ".join(parts) or None

    def _newer_kernel(self) -> str | None:
        restart = self.needrestart
        if restart is not None and restart.reboot_required:
            if restart.status == KSTA_ABI_UPGRADE:
                return f"kernel {restart.running} was rebuilt (ABI-compatible upgrade installed)"
            return f"newer kernel installed: {restart.expected} (running {restart.running})"
        if self.kernels is not None and self.kernels.reboot_required:
            return f"newer kernel installed: {self.kernels.newest} (running {self.kernels.running})"
        return None


_SECTIONS = ("flag", "notifier", "uname", "needrestart", "kernels")


def parse_reboot_check(output: str) -> RebootCheck:
    """Split the reboot check's output into its sections and read each."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    needrestart_exit: int | None = None
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == SECTION_MARK:
            if words[1] == NEEDRESTART_EXIT and len(words) == 3 and words[2].isdigit():
                needrestart_exit = int(words[2])
                current = None
                continue
            if words[1] in _SECTIONS and len(words) == 2:
                current = words[1]
                sections.setdefault(current, [])
                continue
        if current is not None:
            sections[current].append(line)
    flag_lines = [line.strip() for line in sections.get("flag", []) if line.strip()]
    flag_file = bool(flag_lines) and flag_lines[0] == REBOOT_REQUIRED_MARK
    uname = [line.strip() for line in sections.get("uname", []) if line.strip()]
    running = uname[0] if uname else None
    needrestart = (
        parse_needrestart("\n".join(sections.get("needrestart", [])))
        if needrestart_exit is not None
        else None
    )
    kernels = (
        compare_kernels(running, parse_kernel_packages("\n".join(sections["kernels"])))
        if running is not None and "kernels" in sections
        else None
    )
    return RebootCheck(
        flag_file=flag_file,
        # .pkgs may name a package twice (one line per trigger): keep first occurrences.
        flag_packages=tuple(dict.fromkeys(flag_lines[1:])) if flag_file else (),
        notifier=any(line.strip() == NOTIFIER_PRESENT for line in sections.get("notifier", [])),
        running=running,
        needrestart=needrestart,
        needrestart_exit=needrestart_exit,
        kernels=kernels,
        complete=all(name in sections for name in _SECTIONS),
    )
