"""The lab shell's few plain commands (ad-hoc runs, doctor) and what they must not swallow."""

from __future__ import annotations

import time

from patchtui.lab.fleet import build_fleet
from patchtui.lab.shell import execute

HOST = build_fleet(3, faults="none")[2]  # a dnf host: its rollback starts with "echo BANNER;"


def test_true_false_echo_and_date() -> None:
    assert execute(HOST, "true").exit_status == 0
    assert execute(HOST, "sudo -n -u root -- sh -c true").exit_status == 0
    assert execute(HOST, "false").exit_status == 1
    assert execute(HOST, "echo 'a  b' c").stdout == "a  b c\n"
    assert execute(HOST, "echo").stdout == "\n"
    remote = int(execute(HOST, "date +%s").stdout)
    assert abs(remote - time.time()) < 5


def test_compound_lines_are_not_taken_for_echo() -> None:
    result = execute(HOST, "echo x; uname -r")
    assert result.stdout != "x; uname -r\n"
    assert execute(HOST, "echo $HOME").stdout != "$HOME\n"
