from __future__ import annotations

from patchtui.textsafe import strip_control


def test_colour_and_cursor_sequences_are_removed() -> None:
    assert strip_control("\x1b[31mred\x1b[0m \x1b[2J\x1b[Hx") == "red x"


def test_osc_window_title_is_removed() -> None:
    assert strip_control("a\x1b]0;pwned\x07b\x1b]2;t\x1b\\c") == "abc"


def test_other_controls_are_made_visible_and_tabs_expand() -> None:
    assert strip_control("a\x07b\tc\rd") == "a\ufffdb    cd"


def test_markup_is_left_as_text() -> None:
    # Markup is not a terminal control: the widgets must display it literally.
    assert strip_control("[red]not red[/red]") == "[red]not red[/red]"
