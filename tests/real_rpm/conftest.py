"""Fixtures for the ``real_dnf`` and ``real_zypper`` tests: Debian's real dnf and zypper on
private roots behind a private sshd.

One session builds the test package's rpms (rpmbuild) and, per package manager, a local
repository (createrepo_c, modifyrepo_c), a private root with its wrappers (see roots.py) and a
private OpenSSH sshd on 127.0.0.1 (tests/sshd.py, shared with real_apt) whose sessions get the
wrappers first on their PATH. Each test then gets :class:`RealRpmHost`: the repository reset to
the default versions, the package not installed in the root, and a teardown that erases it,
stops any lock holder, and checks that nothing on the machine outside the root changed. At
session end sshd is stopped by PID and the whole tmp tree of roots and repositories is removed,
whether the tests passed or not.

The tests skip, with the reason, when not root, when sshd is missing (``.ci/setup-real-apt.sh``)
or when dnf, zypper, rpm, rpmbuild or createrepo_c are (``.ci/setup-real-rpm.sh``). They also
skip where systemd runs: patchtui starts installs with systemd-run there, whose jobs do not get
the session's PATH and so would not see the wrappers.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from roots import PrivateRoot, dnf_root, host_traces, missing_requirements, zypper_root
from rpms import PACKAGE, RpmRepo
from sshd import PrivateSshd, SshdError, start_sshd

from patchtui.inventory.model import Host

DEFAULT_VERSIONS: tuple[str, ...] = ("1.0", "1.1")
"""What each test starts with in the repository: 1.1 is the security update."""


@dataclass
class RealRpmSession:
    """What one pytest session builds once per package manager."""

    family: str
    repo: RpmRepo
    root: PrivateRoot
    sshd: PrivateSshd
    traces_before: dict[str, tuple[int, int] | None]


@dataclass
class RealRpmHost:
    """The private root as a patchtui host over the private sshd, with helpers to inspect it."""

    session: RealRpmSession
    host: Host
    """patchtui's view: 127.0.0.1, the sshd's port, root, strict host keys, the package
    manager chosen by the inventory's override (the machine itself is Debian)."""

    @property
    def repo(self) -> RpmRepo:
        return self.session.repo

    @property
    def root(self) -> PrivateRoot:
        return self.session.root

    def publish(self, versions: tuple[str, ...] | list[str]) -> None:
        """Make the repository hold exactly ``versions`` and refresh the root's metadata."""
        self.repo.publish(versions)
        self.root.refresh()

    def add_version(self, version: str) -> None:
        self.publish((*self.repo.versions, version))


@contextlib.contextmanager
def _real_rpm_session(
    family: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealRpmSession]:
    reason = missing_requirements(family)
    if reason is not None:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp(f"real_{family}")
    try:
        traces_before = host_traces()
        repo = RpmRepo(base / "repository")
        repo.publish(DEFAULT_VERSIONS)
        make_root = dnf_root if family == "dnf" else zypper_root
        root = make_root(base / family, repo.url)
        try:
            server = start_sshd(base / "sshd", {"PATH": root.session_path})
        except SshdError as error:
            pytest.fail(f"private sshd: {error}")
        try:
            yield RealRpmSession(family, repo, root, server, traces_before)
        finally:
            server.stop()
    finally:
        # The roots, repositories and keys are this session's alone: remove all of them.
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def real_dnf_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRpmSession]:
    with _real_rpm_session("dnf", tmp_path_factory) as session:
        yield session


@pytest.fixture(scope="session")
def real_zypper_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRpmSession]:
    with _real_rpm_session("zypper", tmp_path_factory) as session:
        yield session


@contextlib.contextmanager
def _prepared_host(session: RealRpmSession) -> Iterator[RealRpmHost]:
    if session.sshd.process.poll() is not None:
        pytest.fail(f"private sshd exited early; log:\n{session.sshd.log_tail()}")
    session.root.erase()
    session.root.lock_file.unlink(missing_ok=True)
    host = Host(
        name=f"real-{session.family}",
        address=session.sshd.address,
        port=session.sshd.port,
        user="root",
        identity_file=str(session.sshd.client_key),
        known_hosts=str(session.sshd.known_hosts),
        host_key_policy="strict",
        package_manager=session.family,
    )
    real = RealRpmHost(session=session, host=host)
    try:
        real.publish(DEFAULT_VERSIONS)
        yield real
    finally:
        session.root.erase()
        after = host_traces()
        changed = [
            path for path, before in session.traces_before.items() if after.get(path) != before
        ]
        if changed:
            pytest.fail(f"{session.family} touched the machine outside its private root: {changed}")


@pytest.fixture
def real_dnf_host(real_dnf_session: RealRpmSession) -> Iterator[RealRpmHost]:
    """The private dnf root as patchtui host ``real-dnf``: repo at 1.0 and 1.1."""
    with _prepared_host(real_dnf_session) as real:
        yield real


@pytest.fixture
def real_zypper_host(real_zypper_session: RealRpmSession) -> Iterator[RealRpmHost]:
    """The private zypper root as patchtui host ``real-zypper``: repo at 1.0 and 1.1."""
    with _prepared_host(real_zypper_session) as real:
        yield real


__all__ = ["PACKAGE", "RealRpmHost", "RealRpmSession"]
