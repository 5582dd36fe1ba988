"""Fixtures for the ``real_apt`` tests: real apt/dpkg on this machine behind a private sshd.

One session builds the test package's .debs, a flat local repository, a private APT config
(checked with ``apt-config dump`` before apt ever runs with it) and a private OpenSSH sshd on
127.0.0.1 whose sessions all get ``APT_CONFIG`` set. Each test then gets :class:`RealAptHost`:
the repository reset to the default versions, the package not installed, and a teardown that
purges the package, removes the reboot-required files only if the test created them, and (at
session end) stops sshd by PID.

The tests skip, with the reason, when not root or when sshd, dpkg-deb or dpkg-scanpackages are
missing; ``.ci/setup-real-apt.sh`` installs them so CI really runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from apt_sandbox import AptSandbox, SandboxLeak
from debs import (
    DEFAULT_PACKAGE,
    REBOOT_REQUIRED,
    REBOOT_REQUIRED_PKGS,
    LocalRepo,
    dpkg_status,
    purge_test_package,
    version_file,
)
from sshd import PrivateSshd, SshdError, sshd_available, start_sshd

from patchtui.inventory.model import Host

DEFAULT_VERSIONS: tuple[str, ...] = ("1.0", "1.1")
"""What each test starts with in the repository: 1.1 is the upgrade and asks for a reboot."""
REBOOT_FROM = "1.1"


def missing_requirements() -> str | None:
    """Why the real_apt tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "real_apt tests need root (they install a dummy package with dpkg)"
    for tool in ("dpkg", "dpkg-deb", "dpkg-scanpackages", "dpkg-query", "apt-get", "apt-config"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (run .ci/setup-real-apt.sh)"
    return sshd_available()


@dataclass(frozen=True)
class _RebootFilesBefore:
    """Whether the reboot-required files existed before a test, and the .pkgs contents."""

    flag_existed: bool
    pkgs_content: bytes | None

    @classmethod
    def snapshot(cls) -> _RebootFilesBefore:
        pkgs = REBOOT_REQUIRED_PKGS.read_bytes() if REBOOT_REQUIRED_PKGS.exists() else None
        return cls(flag_existed=REBOOT_REQUIRED.exists(), pkgs_content=pkgs)

    def restore(self) -> None:
        """Undo only what the test package's postinst did."""
        if not self.flag_existed:
            REBOOT_REQUIRED.unlink(missing_ok=True)
        if self.pkgs_content is None:
            REBOOT_REQUIRED_PKGS.unlink(missing_ok=True)
        elif REBOOT_REQUIRED_PKGS.exists():
            REBOOT_REQUIRED_PKGS.write_bytes(self.pkgs_content)


@dataclass
class RealAptSession:
    """What one pytest session builds once: repository, APT sandbox, private sshd."""

    package: str
    repo: LocalRepo
    sandbox: AptSandbox
    sshd: PrivateSshd


@dataclass
class RealAptHost:
    """This machine as a patchtui host over the private sshd, with helpers to inspect it."""

    session: RealAptSession
    host: Host
    """patchtui's view of the host: 127.0.0.1, the sshd's port, root, strict host keys."""
    package: str
    reboot_before: _RebootFilesBefore = field(repr=False)

    @property
    def repo(self) -> LocalRepo:
        return self.session.repo

    @property
    def sandbox(self) -> AptSandbox:
        return self.session.sandbox

    @property
    def sshd(self) -> PrivateSshd:
        return self.session.sshd

    @property
    def port(self) -> int:
        return self.session.sshd.port

    @property
    def client_key(self) -> Path:
        return self.session.sshd.client_key

    @property
    def known_hosts(self) -> Path:
        return self.session.sshd.known_hosts

    def installed_version(self) -> str | None:
        """The version dpkg has installed on this machine, None if not installed."""
        known = dpkg_status(self.package)
        if known is None or known[0] != "installed":
            return None
        return known[1]

    def installed_file_version(self) -> str | None:
        """The version written in the file the package installs (what dpkg really unpacked)."""
        path = version_file(self.package)
        return path.read_text().strip() if path.exists() else None

    def publish(self, versions: Sequence[str], *, refresh_lists: bool = True) -> None:
        """Make the repository hold exactly ``versions``; by default also ``apt-get update``.

        ``refresh_lists=False`` leaves apt's lists stale, for a test that wants to see the
        client refresh them itself.
        """
        self.repo.publish(versions)
        if refresh_lists:
            self.refresh_lists()

    def add_version(self, version: str, *, refresh_lists: bool = True) -> None:
        """Add one version to the repository and re-index it (mid-test)."""
        self.publish((*self.repo.versions, version), refresh_lists=refresh_lists)

    def refresh_lists(self) -> None:
        """``apt-get update`` locally in the sandbox (the lists sshd sessions use too)."""
        self.run_apt("apt-get", "update")

    def apt_env(self) -> dict[str, str]:
        """Environment for running apt locally with only the private repository."""
        return self.sandbox.env()

    def run_apt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run an apt command locally in the sandbox (``LC_ALL=C``, noninteractive)."""
        return self.sandbox.run(*args, check=check)

    def reboot_required(self) -> bool:
        return REBOOT_REQUIRED.exists()

    def reboot_required_packages(self) -> list[str]:
        if not REBOOT_REQUIRED_PKGS.exists():
            return []
        return REBOOT_REQUIRED_PKGS.read_text().split()


@pytest.fixture(scope="session")
def real_apt_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAptSession]:
    """Build the repository, the checked APT sandbox and a private sshd, once per session."""
    reason = missing_requirements()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("real_apt")
    package = DEFAULT_PACKAGE
    repo = LocalRepo(root / "repository", package, reboot_from=REBOOT_FROM)
    repo.publish(DEFAULT_VERSIONS)
    sandbox = AptSandbox(root / "apt")
    sandbox.write(repo.sources_line)
    try:
        sandbox.verify()
    except SandboxLeak as leak:
        # Fail, not skip: a config that could read the real sources is a bug to see, and apt
        # has not run with it.
        pytest.fail(f"private APT config does not isolate apt: {leak}")
    # A package of this name is only ever installed by these tests: one still installed is
    # left over from a run that was killed, and would spoil "not installed" at the start.
    purge_test_package(package)
    try:
        # Only APT_CONFIG: anything else (locale, DEBIAN_FRONTEND) is for patchtui to send.
        server = start_sshd(root / "sshd", {"APT_CONFIG": str(sandbox.config_file)})
    except SshdError as error:
        pytest.fail(f"private sshd: {error}")
    try:
        yield RealAptSession(package=package, repo=repo, sandbox=sandbox, sshd=server)
    finally:
        server.stop()
        purge_test_package(package)


@contextlib.contextmanager
def prepared_real_apt_host(session: RealAptSession) -> Iterator[RealAptHost]:
    """Set up one test's host and undo it on exit, whether the test passed or failed.

    The ``real_apt_host`` fixture is this context manager; tests of the teardown itself use it
    directly so they can look at the machine after it has run.
    """
    if session.sshd.process.poll() is not None:
        pytest.fail(f"private sshd exited early; log:\n{session.sshd.log_tail()}")
    purge_test_package(session.package)
    reboot_before = _RebootFilesBefore.snapshot()
    host = Host(
        name="real-apt",
        address=session.sshd.address,
        port=session.sshd.port,
        user="root",
        identity_file=str(session.sshd.client_key),
        known_hosts=str(session.sshd.known_hosts),
        host_key_policy="strict",
    )
    real = RealAptHost(
        session=session, host=host, package=session.package, reboot_before=reboot_before
    )
    try:
        real.publish(DEFAULT_VERSIONS)
        yield real
    finally:
        try:
            purge_test_package(session.package)
        finally:
            reboot_before.restore()


@pytest.fixture
def real_apt_host(real_apt_session: RealAptSession) -> Iterator[RealAptHost]:
    """This machine as patchtui host ``real-apt``: repo at 1.0 and 1.1, package not installed."""
    with prepared_real_apt_host(real_apt_session) as real:
        yield real


@pytest.fixture
def real_apt_host_context(
    real_apt_session: RealAptSession,
) -> Callable[[], contextlib.AbstractContextManager[RealAptHost]]:
    """:func:`prepared_real_apt_host` for this session, for tests that check the teardown."""
    return lambda: prepared_real_apt_host(real_apt_session)
