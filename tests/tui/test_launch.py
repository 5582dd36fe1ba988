"""Launching: the demo's lab thread, and user errors before the screen is taken over."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from patchtui.errors import PatchtuiError
from patchtui.tui.launch import LabThread, run_console


def test_lab_thread_serves_on_its_own_loop_and_stops(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    lab_thread = LabThread()
    lab = lab_thread.start(hosts=2, seed=1, faults="none", inventory_path=inventory)
    try:
        assert inventory.is_file()
        assert lab_thread.thread.is_alive()
        port = lab.ports[0]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            assert connection.recv(4).startswith(b"SSH-")
    finally:
        lab_thread.stop()
    assert not lab_thread.thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_console_reports_a_bad_inventory_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "inventory.yaml"
    bad.write_text("hosts:\n  web-01: {adress: 10.0.0.1}\n")
    args = argparse.Namespace(
        inventory=str(bad), limit=None, db=str(tmp_path / "db.json"), concurrency=4
    )
    with pytest.raises(PatchtuiError):
        run_console(args)
    # Nothing was opened: the database file was never created.
    assert not (tmp_path / "db.json").exists()


def test_the_real_console_can_pass_a_sudo_password_to_its_connections() -> None:
    import inspect

    from patchtui.transport.ssh import SshConnector
    from patchtui.tui.launch import _connector_factory

    factory = _connector_factory(7)
    assert "become_password" in inspect.signature(factory).parameters
    connector = factory(become_password="s3cret")
    assert isinstance(connector, SshConnector) and connector.concurrency == 7
