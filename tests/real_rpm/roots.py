"""Private roots for real dnf and real zypper, and the wrappers that keep them there.

A root is a directory under the test's tmp dir. The wrappers (``dnf``, ``zypper``, ``rpm`` and,
for dnf, ``needs-restarting``) live in ``wrappers/`` and are put first on the PATH of every
session of the private sshd, so whatever command patchtui sends, it acts on the root only:

- dnf: ``--installroot=ROOT`` with ``ROOT/etc/dnf/dnf.conf`` and ``ROOT/etc/yum.repos.d`` (both
  also named explicitly, so the machine's own /etc/dnf is never read), ``--releasever=9`` (no
  package in the root provides ``system-release(releasever)``), ``gpgcheck=0`` (the test rpms
  are unsigned); cache, logs and locks live in ``ROOT/var``;
- zypper: ``--root ROOT``, its log redirected with ``ZYPP_LOGFILE`` (zypper otherwise writes
  ``/var/log/zypper.log`` of the machine whatever its root); the repository added with
  ``ar -G`` (unsigned);
- rpm: ``--root ROOT``.

Debian's rpm keeps its database under ``~/.rpmdb``, so every wrapper fixes ``HOME=/root``: the
database is ``ROOT/root/.rpmdb``, the same for the test's own checks and for patchtui over SSH.

dnf-plugins-core is not packaged for Debian, so dnf's ``needs-restarting`` does not exist here;
the ``needs-restarting`` on the machine's PATH is zypper's own script, which would ask the
machine's zypper. The dnf wrappers therefore shadow it with one that says it is not installed
(exit 127): patchtui then reports the reboot status as unknown, and the reboot check is not
tested with real dnf.

:func:`host_traces` lists the places on the machine a wrongly rooted dnf, zypper or rpm would
write; the fixtures check that they are unchanged after every test.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rpms import PACKAGE, TOOLS, version_file
from sshd import sshd_available

RELEASEVER = "9"
REPO_ID = "demo"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TOOL_TIMEOUT_S = 120.0

# Where dnf, zypper or rpm would leave traces on the machine if a root were ignored.
_HOST_TRACE_PATHS: tuple[str, ...] = (
    "/root/.rpmdb",
    "/var/lib/rpm",
    "/var/lib/dnf",
    "/var/cache/dnf",
    "/var/log/dnf.log",
    "/var/log/dnf.rpm.log",
    "/var/log/hawkey.log",
    "/var/log/zypper.log",
    "/var/log/zypp",
    "/var/cache/zypp",
    "/var/lib/zypp",
    "/etc/zypp/repos.d",
    "/etc/yum.repos.d",
    "/run/zypp.pid",
)


def host_traces() -> dict[str, tuple[int, int] | None]:
    """(size, mtime in ns) of each place a stray rpm tool would write on the machine.

    None where the place does not exist; for a directory its entries count too.
    """
    traces: dict[str, tuple[int, int] | None] = {}
    for name in _HOST_TRACE_PATHS:
        path = Path(name)
        try:
            stat = path.stat()
        except OSError:
            traces[name] = None
            continue
        mtime = stat.st_mtime_ns
        size = stat.st_size
        if path.is_dir():
            with contextlib.suppress(OSError):
                for entry in path.iterdir():
                    entry_stat = entry.stat()
                    mtime = max(mtime, entry_stat.st_mtime_ns)
                    size += entry_stat.st_size
        traces[name] = (size, mtime)
    return traces


def missing_requirements(family: str) -> str | None:
    """Why the real_<family> tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return f"real_{family} tests need root (rpm installs into a private root with chroot)"
    for tool in (family, *TOOLS):
        if shutil.which(tool) is None:
            return f"{tool} not installed (run .ci/setup-real-rpm.sh)"
    if Path("/run/systemd/system").is_dir():
        return (
            "systemd runs here: patchtui's installs would start under systemd-run without the "
            "session PATH that points dnf/zypper at the private root"
        )
    return sshd_available()


def _write_wrapper(path: Path, body: str) -> None:
    path.write_text(
        "#!/bin/sh\n"
        "# Written by patchtui's real_dnf/real_zypper tests: act on the private root only.\n"
        "# Debian's rpm keeps its database under ~/.rpmdb: a fixed HOME keeps it in the root.\n"
        "HOME=/root; export HOME\n" + body
    )
    path.chmod(0o755)


@dataclass(frozen=True)
class PrivateRoot:
    """One private root and its wrappers; build with :func:`dnf_root` or :func:`zypper_root`."""

    family: str
    """dnf or zypper."""
    root: Path
    wrappers: Path

    @property
    def session_path(self) -> str:
        """The PATH the private sshd gives every session."""
        return f"{self.wrappers}:{SYSTEM_PATH}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": self.session_path, "LC_ALL": "C", "HOME": "/root"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command locally through the wrappers (``dnf ...``, ``zypper ...``, ``rpm ...``)."""
        result = subprocess.run(
            list(args),
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=_TOOL_TIMEOUT_S,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{shlex.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def installed(self) -> str | None:
        """``version-release`` of the test package in the root's rpm database, None if absent."""
        result = self.run("rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", PACKAGE, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def installed_file_version(self) -> str | None:
        """The version in the file the package installs (what rpm really unpacked)."""
        path = version_file(self.root)
        return path.read_text().strip() if path.exists() else None

    def install(self, version: str) -> None:
        """Install exactly ``version`` of the test package, up or down from what is there."""
        spec = f"{PACKAGE}-{version}"
        if self.family == "dnf":
            verb = "install" if self.installed() is None else "downgrade"
            self.run("dnf", "-y", "-q", verb, spec)
        else:
            self.run(
                "zypper", "--non-interactive", "install", "--oldpackage", f"{PACKAGE}={version}"
            )
        if self.installed() != version:
            raise AssertionError(f"expected {version} in {self.root}, rpm says {self.installed()}")

    def erase(self) -> None:
        """Remove the test package from the root (rpm -e; nothing else is ever installed).

        The emptied rpm database goes too: Debian's rpmdb2solv fails on an existing database
        with no package in it ("Failed to cache rpm database"), which zypper then reports for
        every command. A real system is never in that state; a root with no database is.
        """
        if self.installed() is not None:
            self.run("rpm", "-e", "--nodeps", PACKAGE)
        if not self.run("rpm", "-qa").stdout.strip():
            shutil.rmtree(self.root / "root" / ".rpmdb", ignore_errors=True)

    def refresh(self) -> None:
        """Force the package manager to read the repository again (after a publish)."""
        if self.family == "dnf":
            self.run("dnf", "-q", "makecache", "--refresh")
        else:
            self.run("zypper", "--non-interactive", "--quiet", "refresh", "--force")

    @property
    def lock_file(self) -> Path:
        """The file whose live pid makes the package manager refuse to start."""
        if self.family == "dnf":
            return self.root / "var" / "cache" / "dnf" / "metadata_lock.pid"
        return self.root / "run" / "zypp.pid"

    @contextlib.contextmanager
    def lock_held(self) -> Iterator[int]:
        """Hold the package manager's lock with a live process of ours (stopped by its PID)."""
        holder = subprocess.Popen(
            ["sleep", "300"], stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            self.lock_file.write_text(f"{holder.pid}\n")
            yield holder.pid
        finally:
            holder.send_signal(signal.SIGTERM)
            holder.wait(timeout=10)
            self.lock_file.unlink(missing_ok=True)


def dnf_root(base: Path, repo_url: str) -> PrivateRoot:
    """A private dnf root in ``base/root`` whose only repository is ``repo_url``."""
    root, wrappers = base / "root", base / "wrappers"
    (root / "etc" / "dnf").mkdir(parents=True)
    (root / "etc" / "yum.repos.d").mkdir(parents=True)
    wrappers.mkdir(parents=True)
    config = root / "etc" / "dnf" / "dnf.conf"
    config.write_text(
        "[main]\n"
        "gpgcheck=0\n"
        "installonly_limit=3\n"
        "best=False\n"
        "skip_if_unavailable=False\n"
        # Nothing reaches out: no plugins from the machine, no countme, no zchunk mirrors.
        "plugins=0\n"
    )
    (root / "etc" / "yum.repos.d" / f"{REPO_ID}.repo").write_text(
        f"[{REPO_ID}]\n"
        "name=patchtui real_dnf test repository\n"
        f"baseurl={repo_url}\n"
        "enabled=1\n"
        "gpgcheck=0\n"
        "metadata_expire=0\n"
    )
    options = " ".join(
        shlex.quote(option)
        for option in (
            f"--installroot={root}",
            f"--releasever={RELEASEVER}",
            f"--config={config}",
            f"--setopt=reposdir={root / 'etc' / 'yum.repos.d'}",
        )
    )
    _write_wrapper(wrappers / "dnf", f'exec /usr/bin/dnf {options} "$@"\n')
    _write_wrapper(wrappers / "rpm", f'exec /usr/bin/rpm --root {shlex.quote(str(root))} "$@"\n')
    _write_wrapper(
        wrappers / "needs-restarting",
        'echo "needs-restarting: not installed (dnf-plugins-core is not packaged for Debian)" >&2\n'
        "exit 127\n",
    )
    return PrivateRoot("dnf", root, wrappers)


def zypper_root(base: Path, repo_url: str) -> PrivateRoot:
    """A private zypper root in ``base/root`` with ``repo_url`` added as repository ``demo``."""
    root, wrappers = base / "root", base / "wrappers"
    (root / "var" / "log").mkdir(parents=True)
    wrappers.mkdir(parents=True)
    quoted_root = shlex.quote(str(root))
    log = shlex.quote(str(root / "var" / "log" / "zypper.log"))
    _write_wrapper(
        wrappers / "zypper",
        f"ZYPP_LOGFILE={log}; export ZYPP_LOGFILE\n"
        f'exec /usr/bin/zypper --root {quoted_root} "$@"\n',
    )
    _write_wrapper(wrappers / "rpm", f'exec /usr/bin/rpm --root {quoted_root} "$@"\n')
    private = PrivateRoot("zypper", root, wrappers)
    private.run("zypper", "--non-interactive", "--quiet", "addrepo", "-G", repo_url, REPO_ID)
    return private
