"""Tiny noarch rpms and a local rpm-md repository with a security advisory, for the real_dnf and
real_zypper tests.

Each version of ``patchtui-demo`` is built with the real ``rpmbuild -bb`` and installs one file,
``/usr/share/patchtui-demo/VERSION``, holding its version, so a test can tell which version rpm
really unpacked into the private root without trusting a package manager's output.

:meth:`RpmRepo.publish` makes the repository hold exactly the chosen versions: ``createrepo_c``
indexes them and ``modifyrepo_c`` adds an ``updateinfo.xml`` whose advisory ``DEMO-SA-2026:0001``
(type security, severity Important, reference CVE-2026-0001) is fixed by 1.1. dnf shows it as
``DEMO-SA-2026:0001 Important/Sec. patchtui-demo-1.1-1.noarch``; zypper as a needed patch of
category security, severity important, with the CVE in its issue list. As zypper prints a patch
of one package, its Conflicts entry is on one line (``patchtui-demo < 1.1-1``).

Every tool here runs with ``HOME`` set to a directory of the test's own, so nothing reads or
writes the machine's ``~/.rpmmacros`` or Debian's ``~/.rpmdb``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

PACKAGE = "patchtui-demo"
RELEASE = "1"
ADVISORY = "DEMO-SA-2026:0001"
CVE = "CVE-2026-0001"
FIXED_IN = "1.1"
"""The version the security advisory names."""
TOOLS: tuple[str, ...] = ("rpm", "rpmbuild", "createrepo_c", "modifyrepo_c")

_TOOL_TIMEOUT_S = 60.0

_SPEC = """\
Name:           {name}
Version:        {version}
Release:        {release}
Summary:        dummy package built by patchtui's real_dnf/real_zypper tests
License:        MIT
BuildArch:      noarch

%description
Installs one file, /usr/share/{name}/VERSION, holding its version.

%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {version} > %{{buildroot}}/usr/share/{name}/VERSION

%files
/usr/share/{name}/VERSION
"""


def evr(version: str) -> str:
    """``1.1`` -> ``1.1-1``: the version as rpm, dnf and zypper print it (no epoch)."""
    return f"{version}-{RELEASE}"


def version_file(root: Path) -> Path:
    """Where the installed version records itself inside the private root ``root``."""
    return root / "usr" / "share" / PACKAGE / "VERSION"


def _run(args: list[str], *, home: Path, cwd: Path | None = None) -> None:
    result = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, "HOME": str(home), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        check=False,
        timeout=_TOOL_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {result.returncode}:\n{result.stdout}{result.stderr}")


def build_rpm(version: str, work: Path) -> Path:
    """Build ``patchtui-demo-<version>-1.noarch.rpm`` under ``work`` with ``rpmbuild -bb``."""
    top = work / f"rpmbuild-{version}"
    if top.exists():
        shutil.rmtree(top)
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / f"{PACKAGE}.spec"
    spec.write_text(_SPEC.format(name=PACKAGE, version=version, release=RELEASE))
    _run(
        [
            "rpmbuild",
            "-bb",
            "--quiet",
            "--define",
            f"_topdir {top}",
            "--define",
            f"_tmppath {top / 'tmp'}",
            str(spec),
        ],
        home=work,
    )
    built = top / "RPMS" / "noarch" / f"{PACKAGE}-{evr(version)}.noarch.rpm"
    target = work / built.name
    shutil.move(built, target)
    shutil.rmtree(top)
    return target


def updateinfo_xml(versions: Iterable[str]) -> str:
    """updateinfo.xml with the security advisory, when ``versions`` hold the fixed one."""
    updates: list[str] = []
    if FIXED_IN in versions:
        name = escape(PACKAGE)
        updates.append(
            f"""  <update from="patchtui-tests@localhost" status="stable" type="security"
          version="1">
    <id>{ADVISORY}</id>
    <title>Important: {name} security update</title>
    <issued date="2026-01-15 00:00:00"/>
    <updated date="2026-01-15 00:00:00"/>
    <severity>Important</severity>
    <release>patchtui tests</release>
    <description>Fixes {CVE} in {name}.</description>
    <references>
      <reference href="https://www.cve.org/CVERecord?id={CVE}" id="{CVE}" type="cve"
                 title="{CVE}"/>
    </references>
    <pkglist>
      <collection short="demo">
        <name>patchtui demo</name>
        <package name="{name}" version="{FIXED_IN}" release="{RELEASE}" epoch="0" arch="noarch"
                 src="{name}-{evr(FIXED_IN)}.src.rpm">
          <filename>{name}-{evr(FIXED_IN)}.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
"""
        )
    return '<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n' + "".join(updates) + "</updates>\n"


class RpmRepo:
    """A local rpm-md repository in ``root/repo`` holding chosen versions of ``patchtui-demo``.

    Built rpms are kept in ``root/built`` so republishing a version does not rebuild it.
    """

    def __init__(self, root: Path) -> None:
        self.directory = root / "repo"
        self._built = root / "built"
        self._work = root / "work"
        for directory in (self.directory, self._built, self._work):
            directory.mkdir(parents=True, exist_ok=True)
        self.versions: tuple[str, ...] = ()
        self._revision = 0

    @property
    def url(self) -> str:
        return f"file://{self.directory}"

    def rpm_for(self, version: str) -> Path:
        rpm = self._built / f"{PACKAGE}-{evr(version)}.noarch.rpm"
        if not rpm.exists():
            shutil.move(build_rpm(version, self._work), rpm)
        return rpm

    def publish(self, versions: Iterable[str]) -> None:
        """Make the repository hold exactly ``versions``, re-indexed, with its updateinfo.

        Clients see the change after their next forced refresh.
        """
        wanted = tuple(dict.fromkeys(versions))
        if not wanted:
            raise ValueError("publish needs at least one version")
        shutil.rmtree(self.directory)
        self.directory.mkdir()
        for version in wanted:
            shutil.copy2(self.rpm_for(version), self.directory)
        # A revision that always grows: clients never take new metadata for the old one.
        self._revision += 1
        _run(
            ["createrepo_c", "--quiet", "--revision", str(self._revision), str(self.directory)],
            home=self._work,
        )
        # modifyrepo_c names the record after the file: it must be "updateinfo.xml".
        source = self._work / "updateinfo.xml"
        source.write_text(updateinfo_xml(wanted))
        _run(
            ["modifyrepo_c", str(source), str(self.directory / "repodata")],
            home=self._work,
        )
        self.versions = wanted

    def add_version(self, version: str) -> None:
        self.publish((*self.versions, version))
