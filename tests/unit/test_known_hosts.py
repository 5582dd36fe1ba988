"""known_hosts parsing, OpenSSH-style matching and the accept-new writer."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from patchtui.transport.known_hosts import (
    KnownHostsWriter,
    format_entry,
    host_key_name,
    host_patterns_match,
    match_entries,
    parse_known_hosts,
    read_known_hosts_files,
)

KEY_A = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"A" * 36).decode()
KEY_B = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"B" * 36).decode()
FILE = Path("/etc/ssh/known_hosts_test")


def hashed(name: str, salt: bytes = b"salt-salt-salt-salt!") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_parse_keeps_line_numbers_markers_and_skips_junk() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            f"web1,10.0.0.5 ssh-ed25519 {KEY_A} user@laptop",
            f"@cert-authority *.example.com ssh-ed25519 {KEY_B}",
            f"@revoked old.example.com ssh-ed25519 {KEY_B}",
            "@bogus-marker host ssh-ed25519 " + KEY_A,
            "truncated-line ssh-ed25519",
            "badkey ssh-ed25519 not*base64!",
            f"  [db1]:2222 ssh-ed25519 {KEY_B}  ",
        ]
    )

    entries = parse_known_hosts(text, FILE)

    assert [(e.line_number, e.marker, e.hosts) for e in entries] == [
        (3, None, "web1,10.0.0.5"),
        (4, "cert-authority", "*.example.com"),
        (5, "revoked", "old.example.com"),
        (9, None, "[db1]:2222"),
    ]
    assert entries[0].location == f"{FILE}:3"
    assert entries[0].openssh_public_key == f"ssh-ed25519 {KEY_A}"
    assert entries[3].key_blob == base64.b64decode(KEY_B)


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        ("web1,10.0.0.5", "10.0.0.5", True),
        ("web1,10.0.0.5", "web2", False),
        ("WEB1", "web1", True),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "example.com", False),
        ("web?", "web7", True),
        ("*.example.com,!secret.example.com", "secret.example.com", False),
        ("!secret.example.com", "other.example.com", False),
        ("[db1]:2222", "[db1]:2222", True),
        ("[db1]:2222", "d", False),
        ("[db1]:*", "[db1]:2200", True),
    ],
)
def test_host_patterns_follow_openssh(patterns: str, name: str, expected: bool) -> None:
    assert host_patterns_match(patterns, name) is expected


def test_host_key_name_uses_brackets_only_off_port_22() -> None:
    assert host_key_name("web1", 22) == "web1"
    assert host_key_name("web1", None) == "web1"
    assert host_key_name("10.0.0.5", 2222) == "[10.0.0.5]:2222"


def test_match_by_port_has_no_fallback_to_bare_host() -> None:
    entries = parse_known_hosts(
        f"web1 ssh-ed25519 {KEY_A}\n[web1]:2222 ssh-ed25519 {KEY_B}\n", FILE
    )

    assert [e.key_base64 for e in match_entries(entries, "web1", 22)] == [KEY_A]
    assert [e.key_base64 for e in match_entries(entries, "web1", 2222)] == [KEY_B]
    # asyncssh would fall back to "web1" here; OpenSSH (and we) do not.
    assert match_entries(entries, "web1", 2200) == []


def test_hashed_entries_match_plain_and_bracketed_names() -> None:
    text = f"{hashed('web1')} ssh-ed25519 {KEY_A}\n{hashed('[web1]:2222')} ssh-ed25519 {KEY_B}\n"
    entries = parse_known_hosts(text, FILE)

    assert [e.key_base64 for e in match_entries(entries, "web1", 22)] == [KEY_A]
    assert [e.key_base64 for e in match_entries(entries, "web1", 2222)] == [KEY_B]
    assert match_entries(entries, "web2", 22) == []


def test_malformed_hash_never_matches() -> None:
    entries = parse_known_hosts(f"|1|notbase64!|xx ssh-ed25519 {KEY_A}\n", FILE)

    assert len(entries) == 1
    assert match_entries(entries, "web1", 22) == []


def test_format_entry_matches_what_openssh_writes() -> None:
    assert format_entry("10.0.0.5", 2222, "ssh-ed25519", KEY_A) == (
        f"[10.0.0.5]:2222 ssh-ed25519 {KEY_A}"
    )
    assert format_entry("web1", 22, "ssh-rsa", KEY_B) == f"web1 ssh-rsa {KEY_B}"


def test_read_files_skips_missing_and_duplicates(tmp_path: Path) -> None:
    first = tmp_path / "a"
    first.write_text(f"web1 ssh-ed25519 {KEY_A}\n")

    entries = read_known_hosts_files([first, tmp_path / "missing", first])

    assert [(e.path, e.line_number) for e in entries] == [(first, 1)]


def test_writer_records_once_and_reports_conflicts(tmp_path: Path) -> None:
    path = tmp_path / "data" / "known_hosts"
    writer = KnownHostsWriter(path)

    assert writer.record_if_absent("10.0.0.5", 2222, "ssh-ed25519", KEY_A) is None
    assert writer.record_if_absent("10.0.0.5", 2222, "ssh-ed25519", KEY_A) is None
    before = path.read_bytes()
    conflict = writer.record_if_absent("10.0.0.5", 2222, "ssh-ed25519", KEY_B)

    assert before == f"[10.0.0.5]:2222 ssh-ed25519 {KEY_A}\n".encode()
    assert conflict is not None and conflict.location == f"{path}:1"
    assert path.read_bytes() == before
    assert path.stat().st_mode & 0o777 == 0o600


def test_writer_keeps_lines_separate_when_file_lacks_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(f"web1 ssh-ed25519 {KEY_A}")

    KnownHostsWriter(path).record_if_absent("web2", None, "ssh-ed25519", KEY_B)

    assert path.read_text().splitlines() == [
        f"web1 ssh-ed25519 {KEY_A}",
        f"web2 ssh-ed25519 {KEY_B}",
    ]


def test_writer_never_appends_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("KEEP\n")
    for planted in ("known_hosts", "known_hosts.lock"):
        directory = tmp_path / planted.replace(".", "-")
        directory.mkdir()
        (directory / planted).symlink_to(victim)
        with pytest.raises(OSError, match="Too many levels of symbolic links"):
            KnownHostsWriter(directory / "known_hosts").record_if_absent(
                "web1", None, "ssh-ed25519", KEY_A
            )
    assert victim.read_text() == "KEEP\n"
