"""The bounded YAML loader: ordinary aliases work, bombs, self-references and depth do not."""

from __future__ import annotations

import pytest
import yaml

from patchtui import safeyaml
from patchtui.safeyaml import MAX_DEPTH, MAX_VALUES, BoundedSafeLoader, open_loader


def load(text: str) -> object:
    loader = open_loader(BoundedSafeLoader, text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def test_ordinary_aliases_and_merge_keys_still_load() -> None:
    data = load("base: &base {user: ops, port: 22}\nweb:\n  <<: *base\n  port: 2222\nalso: *base\n")
    assert data == {
        "base": {"user": "ops", "port": 22},
        "web": {"user": "ops", "port": 2222},
        "also": {"user": "ops", "port": 22},
    }


def bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_expansion_is_counted_and_bounded() -> None:
    # 10**5 values once followed: fine. 10**7: refused before anything is built.
    assert isinstance(load(bomb(5)), dict)
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load(bomb(7))
    assert f"{MAX_VALUES:,} values" in str(info.value.problem)
    assert info.value.problem_mark is not None


def test_depth_is_bounded_with_a_line() -> None:
    assert load("x: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\n") is not None
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load("a: 1\nx: " + "[" * 50_000 + "\n")
    assert "nested more than" in str(info.value.problem)
    assert info.value.problem_mark is not None and info.value.problem_mark.line == 1


def test_a_self_referencing_alias_is_refused() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load("x: &x [1, *x]\n")
    assert "refers to itself" in str(info.value.problem)


@pytest.mark.parametrize(
    ("text", "needle"),
    [("when: 2030-13-45\n", "month must be in 1..12"), ("n: " + "9" * 5000 + "\n", "4300 digits")],
)
def test_unreadable_scalars_become_marked_errors(text: str, needle: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError) as info:
        load(text)
    assert needle in str(info.value.problem)
    assert "set_int_max_str_digits" not in str(info.value.problem)


def test_control_characters_are_a_marked_error_with_their_line() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load("a: 1\nb: x\x00\n")
    assert "#x0000" in str(info.value.problem)
    assert info.value.problem_mark is not None and info.value.problem_mark.line == 1


def test_values_written_out_are_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real bound (250,000) takes seconds to reach; the counting is the same.
    monkeypatch.setattr(safeyaml, "MAX_NODES", 100)
    # The mapping, its key and the list are values too: 3 + 97 = 100.
    assert load("x: [" + ", ".join(["a"] * 97) + "]\n") is not None
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load("x: [" + ", ".join(["a"] * 98) + "]\n")
    assert "more than 100 values" in str(info.value.problem)
