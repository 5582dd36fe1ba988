"""Tiny dummy .deb packages and a flat local apt repository for the ``real_apt`` tests.

Each version of the test package installs one file, ``/usr/share/<name>/VERSION``, holding its
version, so a test can tell which version dpkg really unpacked without trusting apt's output.
Versions at or above a threshold carry a postinst that asks for a reboot the way Debian packages
do (``/var/run/reboot-required`` plus the package name in ``/var/run/reboot-required.pkgs``).

The repository is *flat* (``deb [trusted=yes] file:/dir ./``): ``Packages``, ``Packages.gz`` and a
``Release`` file side by side. The Release file names a suite ending in ``-security``; apt prints
the Release fields in its simulated ``Inst`` lines as ``Label:Version/Suite``, so with the default
fields below ``LC_ALL=C apt-get -s dist-upgrade`` prints (checked on Debian 12, apt 2.6)::

    Inst patchtui-testpkg [1.0] (1.1 patchtui-test:1/patchtui-test-security [all])

which is the shape of ``Debian-Security:12/stable-security`` that patchtui's security detection
reads. Without a Release file apt would print ``localhost`` in place of ``Label:Version/Suite``.

Only names starting with ``patchtui-testpkg`` are ever built or purged
(:func:`require_test_package_name`): dpkg acts on this machine for real.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PACKAGE = "patchtui-testpkg"
DEFAULT_SUITE = "patchtui-test-security"
DEFAULT_LABEL = "patchtui-test"
REBOOT_REQUIRED = Path("/var/run/reboot-required")
REBOOT_REQUIRED_PKGS = Path("/var/run/reboot-required.pkgs")

# Every subprocess here is local and small; a bound keeps a wedged tool from hanging the run.
_TOOL_TIMEOUT_S = 60.0


def version_file(package: str) -> Path:
    """Where each version of ``package`` records its version once installed."""
    return Path("/usr/share") / package / "VERSION"


def dpkg_version_at_least(version: str, threshold: str) -> bool:
    """Debian version ordering, from dpkg itself rather than a hand-written comparison."""
    result = subprocess.run(
        ["dpkg", "--compare-versions", version, "ge", threshold],
        check=False,
        timeout=_TOOL_TIMEOUT_S,
    )
    return result.returncode == 0


def _postinst(package: str) -> str:
    # Only on "configure": dpkg also runs postinst for abort-upgrade and friends, where asking
    # for a reboot would be wrong. The .pkgs line mirrors what Debian's kernel packages append.
    return (
        "#!/bin/sh\n"
        "set -e\n"
        'if [ "$1" = configure ]; then\n'
        f"    touch {REBOOT_REQUIRED}\n"
        f"    echo {package} >> {REBOOT_REQUIRED_PKGS}\n"
        "fi\n"
    )


def require_test_package_name(package: str, action: str) -> None:
    """Refuse to build or purge anything not named like a test package.

    dpkg really installs what these tests build and really purges what they clean up, so a
    package named after one of the machine's own would replace or remove it.
    """
    if not package.startswith(DEFAULT_PACKAGE):
        raise ValueError(f"refusing to {action} {package!r}: not a patchtui test package")


def build_deb(package: str, version: str, out_dir: Path, *, reboot_required: bool) -> Path:
    """Build ``<package>_<version>_all.deb`` in ``out_dir`` with ``dpkg-deb --build``."""
    require_test_package_name(package, "build")
    tree = out_dir / f"tree-{package}-{version}"
    if tree.exists():
        shutil.rmtree(tree)
    (tree / "DEBIAN").mkdir(parents=True)
    payload = tree / version_file(package).relative_to("/")
    payload.parent.mkdir(parents=True)
    payload.write_text(f"{version}\n")
    control = (
        f"Package: {package}\n"
        f"Version: {version}\n"
        "Architecture: all\n"
        "Maintainer: patchtui tests <patchtui-tests@localhost>\n"
        # Priority/Section keep dpkg-scanpackages from warning about missing override entries.
        "Priority: optional\n"
        "Section: misc\n"
        f"Description: dummy package built by patchtui's real_apt tests (version {version})\n"
        " Safe to purge: it installs one file under /usr/share and nothing else.\n"
    )
    (tree / "DEBIAN" / "control").write_text(control)
    if reboot_required:
        postinst = tree / "DEBIAN" / "postinst"
        postinst.write_text(_postinst(package))
        postinst.chmod(0o755)
    deb = out_dir / f"{package}_{version}_all.deb"
    subprocess.run(
        # --root-owner-group: files owned by root in the archive whatever user builds it.
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
        check=True,
        capture_output=True,
        timeout=_TOOL_TIMEOUT_S,
    )
    shutil.rmtree(tree)
    return deb


def dpkg_status(package: str) -> tuple[str, str] | None:
    """(status word, version) of ``package`` in the real dpkg database, None if unknown."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", package],
        capture_output=True,
        text=True,
        check=False,
        timeout=_TOOL_TIMEOUT_S,
    )
    if result.returncode != 0:
        return None
    status, _, version = result.stdout.strip().partition(" ")
    return status, version


def purge_test_package(package: str) -> None:
    """``dpkg --purge`` exactly ``package`` if dpkg knows it in any state; nothing else."""
    require_test_package_name(package, "purge")
    known = dpkg_status(package)
    if known is None or known[0] == "not-installed":
        return
    subprocess.run(
        ["dpkg", "--purge", package],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        check=True,
        timeout=_TOOL_TIMEOUT_S,
    )


@dataclass(frozen=True)
class RepoRelease:
    """The Release fields apt shows for the repository (``Label:Version/Suite``)."""

    suite: str = DEFAULT_SUITE
    codename: str = DEFAULT_SUITE
    label: str = DEFAULT_LABEL
    origin: str = DEFAULT_LABEL
    version: str = "1"


class LocalRepo:
    """A flat apt repository in ``root`` holding chosen versions of one package.

    Built .debs are kept in ``root/pool-cache`` so republishing a version does not rebuild it;
    the repository directory itself (``root/repo``) holds only the published versions, so
    :meth:`publish` can also withdraw a version.
    """

    def __init__(
        self,
        root: Path,
        package: str = DEFAULT_PACKAGE,
        *,
        reboot_from: str | None = "1.1",
        release: RepoRelease | None = None,
    ) -> None:
        self.package = package
        self.reboot_from = reboot_from
        """Versions >= this one ask for a reboot in their postinst; None: none do."""
        self.release = release or RepoRelease()
        self.directory = root / "repo"
        self._built = root / "pool-cache"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._built.mkdir(parents=True, exist_ok=True)
        self.versions: tuple[str, ...] = ()

    @property
    def sources_line(self) -> str:
        """The one-line-style sources.list entry for this repository."""
        # trusted=yes: the repository is unsigned; it is built by this test run in its own tmp dir.
        return f"deb [trusted=yes] file:{self.directory} ./\n"

    def deb_for(self, version: str) -> Path:
        """The built .deb of ``version``, building it on first use."""
        deb = self._built / f"{self.package}_{version}_all.deb"
        if not deb.exists():
            reboot = self.reboot_from is not None and dpkg_version_at_least(
                version, self.reboot_from
            )
            build_deb(self.package, version, self._built, reboot_required=reboot)
        return deb

    def publish(self, versions: Iterable[str]) -> None:
        """Make the repository hold exactly ``versions`` and re-index it.

        Clients see the change after their next ``apt-get update``.
        """
        wanted = tuple(dict.fromkeys(versions))
        if not wanted:
            raise ValueError("publish needs at least one version")
        for stale in self.directory.glob("*.deb"):
            stale.unlink()
        for version in wanted:
            shutil.copy2(self.deb_for(version), self.directory)
        self._write_indexes()
        self.versions = wanted

    def add_version(self, version: str) -> None:
        """Publish one more version next to those already there."""
        self.publish((*self.versions, version))

    def _write_indexes(self) -> None:
        scan = subprocess.run(
            # "." with cwd=repo: Filename fields come out as "./name.deb", relative to the flat
            # repository root as apt expects for a "./" distribution.
            ["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
            cwd=self.directory,
            check=True,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_S,
        )
        packages = scan.stdout.encode()
        (self.directory / "Packages").write_bytes(packages)
        # mtime=0: identical content gives an identical .gz, so hashes only change with content.
        (self.directory / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
        (self.directory / "Release").write_text(self._release_text(("Packages", "Packages.gz")))

    def _release_text(self, index_names: Sequence[str]) -> str:
        release = self.release
        lines = [
            f"Origin: {release.origin}",
            f"Label: {release.label}",
            f"Suite: {release.suite}",
            f"Codename: {release.codename}",
            f"Version: {release.version}",
            # apt rejects a Release file dated in the future and warns on a missing Date.
            f"Date: {email.utils.formatdate(usegmt=True)}",
            "Architectures: all",
            "Components: main",
            "Description: patchtui real_apt test repository",
        ]
        # apt verifies each index it downloads against these sums; without them it refuses the
        # index ("hash sum mismatch"/"not found in Release") once a Release file exists.
        for field, algorithm in (("MD5Sum", "md5"), ("SHA256", "sha256")):
            lines.append(f"{field}:")
            for name in index_names:
                data = (self.directory / name).read_bytes()
                digest = hashlib.new(algorithm, data).hexdigest()
                lines.append(f" {digest} {len(data)} {name}")
        return "\n".join(lines) + "\n"
