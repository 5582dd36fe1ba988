"""Themes as data: the bundled files load, broken ones are reported, the choice is remembered."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.style import Style
from tuihelp import SIZE

from patchtui.engine.events import HostFinished, HostState
from patchtui.tui import themes
from patchtui.tui.app import PatchtuiApp
from patchtui.tui.widgets.colours import theme_style
from patchtui.tui.widgets.host_table import HostTable

BUNDLED = {"patchtui-dark", "patchtui-light", "patchtui-high-contrast"}


def test_bundled_themes_load_from_the_source_tree() -> None:
    loaded, errors = themes.load_themes()
    assert errors == []
    assert {theme.name for theme in loaded} >= BUNDLED
    light = next(theme for theme in loaded if theme.name == "patchtui-light")
    assert light.dark is False


def test_theme_dirs_hold_the_repository_themes() -> None:
    repo_themes = Path(__file__).resolve().parents[2] / "themes"
    (directory,) = themes.theme_dirs()
    shipped = {entry.name for entry in directory.iterdir()}
    assert shipped == {path.name for path in repo_themes.glob("*.yaml")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nprimary: '#ff0000'\nsparkle: true\n", "unknown field(s): sparkle"),
        ("name: x\nprimary: not-a-colour\n", "primary: not a colour"),
        ("primary: '#ff0000'\n", "'name' must be a non-empty string"),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: [unclosed\n", "while parsing"),
    ],
)
def test_broken_theme_files_are_reported_and_skipped(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "broken.yaml").write_text(text)
    (tmp_path / "good.yaml").write_text("name: good\nprimary: '#123456'\n")
    loaded, errors = themes.load_themes([tmp_path])
    assert [theme.name for theme in loaded] == ["good"]
    assert len(errors) == 1 and message in errors[0]


def test_saved_theme_round_trip_keeps_other_settings(tmp_path: Path) -> None:
    path = themes.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"other": 1}))
    themes.save_theme("patchtui-light")
    assert themes.saved_theme() == "patchtui-light"
    assert json.loads(path.read_text()) == {"other": 1, "theme": "patchtui-light"}
    path.write_text("{not json")
    assert themes.saved_theme() is None


async def test_app_remembers_the_chosen_theme(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "patchtui-dark"
        assert set(app.available_themes) >= BUNDLED
        app.theme = "patchtui-high-contrast"
        await pilot.pause()
    assert themes.saved_theme() == "patchtui-high-contrast"
    again = tui_offline_app()
    async with again.run_test(size=SIZE):
        assert again.theme == "patchtui-high-contrast"


async def test_state_colours_follow_the_theme(tui_offline_app: Callable[..., PatchtuiApp]) -> None:
    app = tui_offline_app()
    async with app.run_test(size=SIZE) as pilot:
        app.bridge(HostFinished(run_id="r", host="web-01", state=HostState.FAILED, error="x"))
        await pilot.pause(0.25)
        table = app.screen.query_one(HostTable)
        before = table.get_cell("web-01", "state").style
        # A built-in Textual theme works too: the colours come from its variables.
        app.theme = "textual-light"
        await pilot.pause()
        after = table.get_cell("web-01", "state").style
        assert table.get_cell("web-01", "state").plain == "failed"
        assert before != after
        assert not isinstance(after, str) and after.color is not None


def colour_of(style: Style) -> str:
    assert style.color is not None
    return style.color.name


def test_cell_styles_follow_each_theme_and_are_made_once_per_theme() -> None:
    dark = {"text-warning": "#ffa500", "foreground": "#e0e0e0", "background": "#000000"}
    light = {"text-warning": "#8a4b00", "foreground": "#202020", "background": "#ffffff"}
    warning = theme_style(dark, "text-warning")
    assert colour_of(warning) == "#ffa500"
    assert theme_style(dark, "text-warning") is warning  # made once for this theme
    assert theme_style(dark, "text-warning", bold=True).bold
    assert colour_of(theme_style(light, "text-warning")) == "#8a4b00"
    # Back to the dark theme's mapping (Textual builds a new one on a theme change).
    assert colour_of(theme_style(dict(dark), "text-warning")) == "#ffa500"
    assert theme_style(dark, "no-such-variable") == theme_style(dark, "no-such-variable")
