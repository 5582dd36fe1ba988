"""Parse the output of the facts command (os-release, kernel, uptime, boot id, package managers).

The facts command (``patchtui.drivers.facts.FACTS_COMMAND``) prints each
source after a marker line ``@@patchtui:<section>``; this module owns those
section names so the command, this parser and the lab's simulated shell
cannot drift apart.
"""

from __future__ import annotations

from patchtui.drivers.base import Facts

SECTION_PREFIX = "@@patchtui:"
SECTIONS: tuple[str, ...] = ("os-release", "kernel", "uptime", "boot-id", "hostname", "managers")
END_SECTION = "end"

MANAGER_BINARIES: tuple[str, ...] = ("apt-get", "dnf", "yum", "zypper", "apk")
"""Binaries the facts command looks for, in the order it prints them."""

_FAMILY_OF_BINARY = {"apt-get": "apt", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "apk": "apk"}

# Which family an OS is expected to use, from its ID / ID_LIKE words. A host can
# carry a stray second manager (yum installed on Debian, apk-tools for a build);
# the OS family decides first so such a binary does not win by accident.
_PREFERRED_BY_OS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (frozenset({"debian", "ubuntu"}), ("apt",)),
    (frozenset({"alpine"}), ("apk",)),
    (frozenset({"suse", "opensuse", "sles", "sled"}), ("zypper",)),
    # dnf before yum: on RHEL 8+ both exist and yum is only a dnf alias.
    (frozenset({"rhel", "fedora", "centos", "rocky", "almalinux", "ol"}), ("dnf", "yum")),
)
_FALLBACK_ORDER: tuple[str, ...] = ("apt", "dnf", "yum", "zypper", "apk")


class FactsParseError(ValueError):
    """The text is not output of the facts command (no section markers)."""


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5) ``KEY=value`` lines; quotes and backslash escapes are undone."""
    values: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == "'":
            return inner
        # Double-quoted values may escape $, ", \ and ` per os-release(5).
        out: list[str] = []
        escaped = False
        for char in inner:
            if escaped:
                out.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            else:
                out.append(char)
        return "".join(out)
    return value


def split_sections(text: str) -> dict[str, list[str]]:
    """Lines of each marked section, keyed by section name (without the prefix)."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(SECTION_PREFIX):
            current = stripped[len(SECTION_PREFIX) :]
            sections.setdefault(current, [])
            continue
        if current is not None:
            sections[current].append(line)
    return sections


def detect_package_manager(
    binaries: tuple[str, ...], os_id: str, os_like: tuple[str, ...]
) -> str | None:
    """The family to use given the binaries found and the OS identity.

    dnf is preferred over yum when both exist; the OS family (ID, ID_LIKE)
    is consulted before the fixed fallback order.
    """
    families = {_FAMILY_OF_BINARY[name] for name in binaries if name in _FAMILY_OF_BINARY}
    if not families:
        return None
    words = {os_id, *os_like}
    for os_words, preferred in _PREFERRED_BY_OS:
        if words & os_words:
            for family in preferred:
                if family in families:
                    return family
    for family in _FALLBACK_ORDER:
        if family in families:
            return family
    return None


def parse_facts(text: str) -> Facts:
    """Build ``Facts`` from the facts command's output.

    Missing pieces become None (uptime, boot id, hostname, package manager);
    a missing os-release falls back to the os-release(5) defaults ID=linux,
    NAME=Linux. Raises ``FactsParseError`` if no section marker is present.
    """
    sections = split_sections(text)
    if not sections:
        raise FactsParseError("no facts section markers in the output")
    os_release = parse_os_release("\n".join(sections.get("os-release", [])))
    os_id = os_release.get("ID", "linux") or "linux"
    os_like = tuple(os_release.get("ID_LIKE", "").split())
    os_name = os_release.get("PRETTY_NAME") or os_release.get("NAME") or "Linux"
    binaries = tuple(
        line.strip() for line in sections.get("managers", []) if line.strip() in MANAGER_BINARIES
    )
    return Facts(
        os_id=os_id,
        os_version=os_release.get("VERSION_ID", ""),
        os_name=os_name,
        os_like=os_like,
        kernel=_first_line(sections.get("kernel")) or "",
        uptime_seconds=_parse_uptime(_first_line(sections.get("uptime"))),
        boot_id=_first_line(sections.get("boot-id")),
        hostname=_first_line(sections.get("hostname")),
        package_manager=detect_package_manager(binaries, os_id, os_like),
    )


def _first_line(lines: list[str] | None) -> str | None:
    for line in lines or []:
        if line.strip():
            return line.strip()
    return None


def _parse_uptime(line: str | None) -> float | None:
    # /proc/uptime: "<seconds since boot> <idle seconds summed over CPUs>"
    if not line:
        return None
    try:
        return float(line.split()[0])
    except ValueError:
        return None
