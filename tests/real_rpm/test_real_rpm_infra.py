"""The real_dnf/real_zypper infrastructure itself, proved with real tools and plain asyncssh.

No patchtui code runs here apart from the ``Host`` model: these tests show that an SSH session
of the private sshd finds the wrappers first on its PATH and that they act on the private root
only, that the machine-trace check can see a change, and that the tests skip with a reason
naming the setup script when a tool is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh
import pytest
import roots
from rpms import PACKAGE, evr

if TYPE_CHECKING:
    from conftest import RealRpmHost

_COMMAND_TIMEOUT_S = 60.0


async def ssh_run(real: RealRpmHost, command: str) -> str:
    """Run ``command`` with plain asyncssh (generated key, strict known_hosts); its stdout."""
    sshd = real.session.sshd
    async with asyncssh.connect(
        sshd.address,
        port=sshd.port,
        username="root",
        client_keys=[str(sshd.client_key)],
        known_hosts=str(sshd.known_hosts),
        agent_path=None,
        config=[],
        connect_timeout=10,
    ) as connection:
        result = await connection.run(command, check=True, timeout=_COMMAND_TIMEOUT_S)
    return str(result.stdout)


@pytest.mark.real_dnf
async def test_dnf_session_path_reaches_only_the_private_root(real_dnf_host: RealRpmHost) -> None:
    real = real_dnf_host
    real.root.install(evr("1.0"))
    found = await ssh_run(real, "command -v dnf rpm needs-restarting")
    assert found.split() == [
        str(real.root.wrappers / name) for name in ("dnf", "rpm", "needs-restarting")
    ]
    # The rpm an SSH session runs sees the root's database: the test package and nothing else.
    assert (await ssh_run(real, "rpm -qa --qf '%{NAME}-%{VERSION}\\n'")).split() == [
        f"{PACKAGE}-1.0"
    ]
    assert (real.root.root / "root" / ".rpmdb").is_dir()


@pytest.mark.real_zypper
async def test_zypper_session_sees_only_the_test_repository(
    real_zypper_host: RealRpmHost,
) -> None:
    real = real_zypper_host
    repos = await ssh_run(real, "zypper --non-interactive --xmlout repos")
    assert f'alias="{roots.REPO_ID}"' in repos and real.repo.url.removeprefix("file://") in repos
    assert repos.count("<repo ") == 1


def test_host_traces_see_a_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watched = tmp_path / "var-log"
    watched.mkdir()
    monkeypatch.setattr(roots, "_HOST_TRACE_PATHS", (str(watched), str(tmp_path / "absent")))
    before = roots.host_traces()
    assert before[str(tmp_path / "absent")] is None
    (watched / "zypper.log").write_text("a stray write\n")
    assert roots.host_traces() != before


@pytest.mark.parametrize("family", ["dnf", "zypper"])
def test_missing_tool_skips_naming_the_setup_script(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == family else real_which(tool))
    assert (
        roots.missing_requirements(family) == f"{family} not installed (run .ci/setup-real-rpm.sh)"
    )
