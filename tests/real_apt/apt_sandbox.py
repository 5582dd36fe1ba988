"""A private APT configuration that makes apt see only the tests' local repository.

apt reads, in order: the file named by ``APT_CONFIG``, then every fragment in
``Dir::Etc::Parts`` (``/etc/apt/apt.conf.d``), then ``Dir::Etc::main``. A fragment could therefore
override anything set in ``APT_CONFIG``, so the sandbox points ``Dir::Etc::Parts`` and
``Dir::Etc::main`` at empty places in its own directory too. The package lists, caches, logs and
apt's own state (``extended_states``) go into the sandbox directory; only
``Dir::State::status`` stays the machine's real dpkg status, because dpkg really installs the
test package (and only it).

:meth:`AptSandbox.verify` runs ``apt-config dump`` under the sandbox and refuses it unless every
redirection took effect: apt must never run with a configuration that could read the machine's
real sources.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REAL_DPKG_STATUS = "/var/lib/dpkg/status"
_APT_TIMEOUT_S = 120.0


class SandboxLeak(RuntimeError):
    """``apt-config dump`` shows the sandbox would read something of the real machine."""


@dataclass(frozen=True)
class AptSandbox:
    """Paths of one private APT configuration rooted in ``root``."""

    root: Path

    @property
    def config_file(self) -> Path:
        """The file to export as ``APT_CONFIG``."""
        return self.root / "apt.conf"

    @property
    def sources_list(self) -> Path:
        return self.root / "etc" / "sources.list"

    @property
    def _redirected_dirs(self) -> dict[str, Path]:
        """Config key -> directory that must exist (and, for the Etc ones, stay empty)."""
        return {
            # Dir::Etc is the base of every relative Etc path (trusted.gpg, auth.conf, ...):
            # pointing it into the sandbox keeps the keys not redirected one by one away too.
            "Dir::Etc": self.root / "etc",
            "Dir::Etc::sourceparts": self.root / "etc" / "sources.list.d",
            "Dir::Etc::parts": self.root / "etc" / "apt.conf.d",
            "Dir::Etc::preferencesparts": self.root / "etc" / "preferences.d",
            "Dir::State": self.root / "state",
            "Dir::State::lists": self.root / "state" / "lists",
            "Dir::Cache": self.root / "cache",
            "Dir::Cache::archives": self.root / "cache" / "archives",
            "Dir::Log": self.root / "log",
        }

    def write(self, sources_line: str) -> None:
        """Create the directories and write the config and a sources.list of ``sources_line``."""
        dirs = self._redirected_dirs
        for directory in dirs.values():
            directory.mkdir(parents=True, exist_ok=True)
        # apt wants the partial/ directories to exist before it downloads anything.
        (dirs["Dir::State::lists"] / "partial").mkdir(exist_ok=True)
        (dirs["Dir::Cache::archives"] / "partial").mkdir(exist_ok=True)
        self.sources_list.write_text(sources_line)
        empty_main = self.root / "etc" / "apt.conf"
        empty_main.write_text("")
        preferences = self.root / "etc" / "preferences"
        preferences.write_text("")

        settings: dict[str, str] = {
            "Dir::Etc::sourcelist": str(self.sources_list),
            "Dir::Etc::main": str(empty_main),
            "Dir::Etc::preferences": str(preferences),
            **{key: f"{path}/" for key, path in dirs.items()},
            "Dir::State::status": REAL_DPKG_STATUS,
            "Dir::State::extended_states": str(dirs["Dir::State"] / "extended_states"),
            "Dir::Cache::pkgcache": str(dirs["Dir::Cache"] / "pkgcache.bin"),
            "Dir::Cache::srcpkgcache": str(dirs["Dir::Cache"] / "srcpkgcache.bin"),
            # No translations or other extra indexes: a flat test repository has none.
            "Acquire::Languages": "none",
            "APT::Get::List-Cleanup": "true",
        }
        lines = [
            "// Written by patchtui's real_apt tests: apt sees only the local test repository.",
            *(f'{key} "{value}";' for key, value in settings.items()),
        ]
        self.config_file.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        """The environment for running apt locally inside the sandbox."""
        env = dict(os.environ)
        env.update(
            APT_CONFIG=str(self.config_file),
            DEBIAN_FRONTEND="noninteractive",
            LC_ALL="C",
        )
        return env

    def dump(self) -> dict[str, str]:
        """``apt-config dump`` under the sandbox, as key -> value (last one wins)."""
        result = subprocess.run(
            ["apt-config", "dump"],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=_APT_TIMEOUT_S,
        )
        return parse_apt_config_dump(result.stdout)

    def verify(self) -> dict[str, str]:
        """Raise :class:`SandboxLeak` unless apt reads only the sandbox's sources and config."""
        dump = self.dump()
        root = f"{self.root}/"
        problems: list[str] = []
        expected = {
            "Dir::Etc::sourcelist": str(self.sources_list),
            "Dir::State::status": REAL_DPKG_STATUS,
            **{key: f"{path}/" for key, path in self._redirected_dirs.items()},
        }
        for key, want in expected.items():
            got = dump.get(key)
            if got is None or os.path.normpath(got) != os.path.normpath(want):
                problems.append(f"{key} is {got!r}, expected {want!r}")
        for key in ("Dir::Etc::sourcelist", "Dir::Etc::sourceparts", "Dir::Etc::parts"):
            if not dump.get(key, "").startswith(root):
                problems.append(f"{key} ({dump.get(key)!r}) is outside {root}")
        # "Dir" itself is the prefix of every relative path: it must stay "/" so the absolute
        # values above are what apt uses.
        if dump.get("Dir", "/") != "/":
            problems.append(f"Dir is {dump.get('Dir')!r}")
        for parts_key in ("Dir::Etc::sourceparts", "Dir::Etc::parts", "Dir::Etc::preferencesparts"):
            leftovers = list(self._redirected_dirs[parts_key].iterdir())
            if leftovers:
                problems.append(f"{parts_key} is not empty: {leftovers}")
        if problems:
            raise SandboxLeak("; ".join(problems))
        return dump

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run an apt command (``apt-get``, ``apt-cache``, ...) locally inside the sandbox."""
        return subprocess.run(
            list(args),
            env=self.env(),
            check=check,
            capture_output=True,
            text=True,
            timeout=_APT_TIMEOUT_S,
        )


def parse_apt_config_dump(text: str) -> dict[str, str]:
    """Parse ``apt-config dump`` lines (``Key "value";``) into a mapping.

    List entries (``Key:: "value";``) are kept under their ``Key::`` name, the last one winning;
    the sandbox checks only scalar keys.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(" ")
        if not sep or not rest.endswith(";"):
            continue
        value = rest[:-1].strip()
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        values[key] = value
    return values
