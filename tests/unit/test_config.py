"""The config file: defaults, relative policy paths, and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchtui.config import Config, config_path, load_config
from patchtui.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_missing_file_means_builtin_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "nope.toml") == Config()


def test_default_location_follows_patchtui_config(isolated_home: Path) -> None:
    assert config_path() == isolated_home / "config" / "config.toml"
    write(config_path(), "[defaults]\nconcurrency = 7\n")
    assert load_config().concurrency == 7


def test_every_default_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cfg" / "config.toml",
        '[defaults]\nconcurrency = 120\npolicy = "policies/prod.yaml"\n'
        'theme = "nord"\nhost_key_policy = "accept-new"\nstale_mirror_days = 14\n',
    )
    config = load_config(path)
    assert config.concurrency == 120
    # Relative to the config file, so cron jobs get the same policy from any directory.
    assert config.policy == (tmp_path / "cfg" / "policies" / "prod.yaml").resolve()
    assert config.theme == "nord"
    assert config.host_key_policy == "accept-new"
    assert config.stale_mirror_days == 14
    assert config.source == path


def test_absolute_and_home_policy_paths(tmp_path: Path, isolated_home: Path) -> None:
    path = write(tmp_path / "a.toml", '[defaults]\npolicy = "/etc/patchtui/policy.yaml"\n')
    assert load_config(path).policy == Path("/etc/patchtui/policy.yaml")
    path = write(tmp_path / "b.toml", '[defaults]\npolicy = "~/policy.yaml"\n')
    assert load_config(path).policy == isolated_home / "policy.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\nconcurency = 5\n", "unknown key defaults.concurency"),
        ("[default]\nconcurrency = 5\n", "unknown section [default]"),
        ("theme = 'nord'\n", "unknown section [theme]"),
        ("[defaults]\nconcurrency = 0\n", "defaults.concurrency must be a whole number"),
        ("[defaults]\nconcurrency = true\n", "defaults.concurrency must be a whole number"),
        ("[defaults]\nconcurrency = '10'\n", "defaults.concurrency must be a whole number"),
        ("[defaults]\nhost_key_policy = 'yes'\n", "must be one of strict, accept-new"),
        ("[defaults]\ntheme = ''\n", "defaults.theme must be a non-empty string"),
        ("[defaults]\nstale_mirror_days = -1\n", "defaults.stale_mirror_days must be a whole"),
        ("[defaults\nconcurrency = 5\n", "not valid TOML"),
    ],
)
def test_mistakes_are_one_line_errors_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(f"{path}: ")
    assert "\n" not in message


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "")
    path.write_bytes(b"\xff\xfe[defaults]")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(path)
