"""Fixtures for the SSH transport tests: a real asyncssh server on loopback, isolated HOME.

Every fixture here is named ``transport_*`` so other integration tests can
share this conftest without clashes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sshserver import KeyFiles, SshTestServer

from patchtui.transport.ssh import SshConnector


@pytest.fixture
def transport_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway HOME and data dir, no ssh-agent: nothing touches the real ~/.ssh."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATCHTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def transport_client_key(tmp_path: Path) -> KeyFiles:
    """The client key every transport_server authorizes."""
    directory = tmp_path / "client"
    directory.mkdir()
    return KeyFiles.generate(directory, "id_ed25519")


@pytest.fixture
async def transport_server(
    tmp_path: Path, transport_env: Path, transport_client_key: KeyFiles
) -> AsyncIterator[SshTestServer]:
    server = await SshTestServer.start(tmp_path / "server", transport_client_key)
    yield server
    await server.stop()


@pytest.fixture
async def transport_connector(
    transport_env: Path, transport_client_key: KeyFiles
) -> AsyncIterator[Callable[..., SshConnector]]:
    """Factory for connectors using the authorized key; closes their sessions afterwards."""
    made: list[SshConnector] = []

    def make(**overrides: Any) -> SshConnector:
        options: dict[str, Any] = {
            "client_keys": [str(transport_client_key.private_path)],
            "use_agent": False,
            "connect_timeout": 5.0,
        }
        options.update(overrides)
        connector = SshConnector(**options)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.close_all()
