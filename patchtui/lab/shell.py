"""The lab's simulated shell: answer a driver's real command from a ``SimHost``.

Commands arrive exactly as a real sshd would receive them, including the
become wrapper the transport adds (``sudo -n -u <user> -- sh -c '<cmd>'``).
The facts command is answered here, detached jobs, reboots and boot ids by
``patchtui.lab.sim.jobs``; everything else goes to the host family's
simulator module (``patchtui.lab.sim.<module>.handle``).
"""

from __future__ import annotations

import importlib
import shlex
import time
from types import ModuleType

from patchtui.drivers.facts import FACTS_COMMAND
from patchtui.drivers.parsers.facts import END_SECTION, SECTION_PREFIX
from patchtui.lab.sim import ShellResult, jobs, metadata, services
from patchtui.lab.state import SimHost

_SIM_MODULE_OF_FAMILY = {"apt": "apt", "apk": "apk", "dnf": "dnf", "yum": "dnf", "zypper": "zypper"}

# Binaries `command -v` finds per family; RHEL 8+ ships yum as an alias of dnf.
_MANAGER_BINARIES = {
    "apt": ("apt-get",),
    "dnf": ("dnf", "yum"),
    "yum": ("yum",),
    "zypper": ("zypper",),
    "apk": ("apk",),
}

_FACTS_COMMAND = FACTS_COMMAND.strip()
_SHELL_SYNTAX = frozenset(";|&<>$`(){}\n")
_sim_modules: dict[str, ModuleType | None] = {}


def unwrap_become(command: str) -> str:
    """Strip ``sudo [opts] -- sh -c '<cmd>'`` wrappers; return the inner command."""
    current = command.strip()
    for _ in range(4):  # bounded: a wrapper inside a wrapper is possible, a loop is not
        if not current.startswith("sudo "):
            return current
        try:
            words = shlex.split(current)
        except ValueError:
            return current
        if "--" not in words:
            return current
        rest = words[words.index("--") + 1 :]
        if len(rest) != 3 or rest[0] not in ("sh", "/bin/sh") or rest[1] != "-c":
            return current
        current = rest[2].strip()
    return current


def execute(host: SimHost, command: str) -> ShellResult:
    """Run ``command`` on the simulated ``host`` and return what the real tool would print."""
    inner = unwrap_become(command)
    if inner == _FACTS_COMMAND:
        return ShellResult(stdout=render_facts(host))
    builtin = _builtin(inner, host=host)
    if builtin is not None:
        return builtin
    ages = metadata.handle(host, inner, time.time())
    if ages is not None:
        return ages
    service = services.handle(host, inner)
    if service is not None:
        return service
    # Detached jobs, reboots and boot ids work alike on every family; a job's
    # inner command comes back through execute() to the family's simulator.
    handled = jobs.handle(host, inner, execute)
    if handled is not None:
        return handled
    module = _sim_module(host.family)
    if module is not None:
        result: ShellResult | None = module.handle(host, inner)
        if result is not None:
            return result
    program = inner.split(maxsplit=1)[0] if inner.split() else inner
    return ShellResult(stderr=f"sh: 1: {program}: not found\n", exit_status=127)


def _builtin(
    command: str, now: float | None = None, *, host: SimHost | None = None
) -> ShellResult | None:
    """The few plain shell commands ad-hoc runs and ``patchtui doctor`` send.

    ``true``/``false`` (a privilege check is ``sudo -n true``), ``echo WORDS``,
    ``date +%s`` (clock check), and ``uptime``/``hostname`` (the console's example
    command must work on the demo fleet); anything else is not simulated.
    """
    moment = time.time() if now is None else now
    if host is not None and command == "uptime":
        return ShellResult(stdout=_uptime_line(host, moment))
    if host is not None and command == "hostname":
        return ShellResult(stdout=f"{host.hostname}\n")
    if command == "true":
        return ShellResult()
    if command == "false":
        return ShellResult(exit_status=1)
    if command == "date +%s":
        return ShellResult(stdout=f"{int(moment)}\n")
    # Only a lone echo: a compound line (the dnf driver's "echo BANNER; dnf ...")
    # belongs to the family simulator.
    if (command == "echo" or command.startswith("echo ")) and not _SHELL_SYNTAX & set(command):
        try:
            words = shlex.split(command)[1:]
        except ValueError:
            return ShellResult(
                stderr="sh: 1: Syntax error: Unterminated quoted string\n", exit_status=2
            )
        return ShellResult(stdout=" ".join(words) + "\n")
    return None


def _uptime_line(host: SimHost, now: float) -> str:
    """What procps' ``uptime`` prints, from the host's boot time (load is made up: 0.0x)."""
    seconds = max(0, int(now - host.booted_at))
    days, rest = divmod(seconds, 86_400)
    hours, minutes = divmod(rest // 60, 60)
    since = f"{days} day{'s' if days != 1 else ''}, " if days else ""
    clock = time.strftime("%H:%M:%S", time.gmtime(now))
    return (
        f" {clock} up {since}{hours:2d}:{minutes:02d},  1 user,  load average: 0.08, 0.03, 0.01\n"
    )


def _sim_module(family: str) -> ModuleType | None:
    """The simulator for ``family``, imported once; None if it is not written (yet)."""
    name = _SIM_MODULE_OF_FAMILY.get(family)
    if name is None:
        return None
    if name not in _sim_modules:
        module_name = f"patchtui.lab.sim.{name}"
        try:
            _sim_modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            _sim_modules[name] = None
    return _sim_modules[name]


def render_os_release(host: SimHost) -> str:
    fields = [
        ("PRETTY_NAME", host.pretty_name),
        ("NAME", host.pretty_name.split(" ")[0] if host.pretty_name else host.os_id),
        ("ID", host.os_id),
        ("ID_LIKE", host.id_like),
        ("VERSION_ID", host.os_version),
        ("VERSION_CODENAME", host.version_codename),
    ]
    return "".join(f'{key}="{value}"\n' for key, value in fields if value)


def render_facts(host: SimHost, now: float | None = None) -> str:
    """The facts command's output for ``host``, section by section."""
    uptime = max(0.0, (time.time() if now is None else now) - host.booted_at)
    binaries = _MANAGER_BINARIES.get(host.family, ())
    parts = [
        f"{SECTION_PREFIX}os-release\n",
        render_os_release(host),
        f"{SECTION_PREFIX}kernel\n{host.kernel}\n",
        f"{SECTION_PREFIX}uptime\n{uptime:.2f} {uptime * 1.9:.2f}\n",
        f"{SECTION_PREFIX}boot-id\n{host.boot_id}\n",
        f"{SECTION_PREFIX}hostname\n{host.hostname}\n",
        f"{SECTION_PREFIX}managers\n",
        "".join(f"{binary}\n" for binary in binaries),
        f"{SECTION_PREFIX}{END_SECTION}\n",
    ]
    return "".join(parts)
