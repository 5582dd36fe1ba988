"""Turn theme variables into Rich styles for cells that DataTable draws itself.

DataTable cells are Rich ``Text``, which cannot refer to ``$variables`` the way
``.tcss`` can, so the console looks the colour up in the running theme and
looks it up again when the theme changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

from patchtui.textsafe import strip_control


class _StylesOfTheme:
    """The styles made from one theme's variables (Textual replaces the mapping, never
    edits it, when the theme changes). Parsing a colour and building a Style takes
    ~3 us; the host table asks six per row, and clearing a filter on 1,000 hosts
    redraws every row."""

    def __init__(self) -> None:
        self.variables: Mapping[str, str] | None = None
        self.styles: dict[tuple[str, bool], Style] = {}

    def get(self, variables: Mapping[str, str], name: str, bold: bool) -> Style:
        if variables is not self.variables:
            self.variables, self.styles = variables, {}
        style = self.styles.get((name, bold))
        if style is None:
            style = self.styles[name, bold] = _make_style(variables, name, bold)
        return style


_STYLES = _StylesOfTheme()


def theme_style(variables: Mapping[str, str], name: str, *, bold: bool = False) -> Style:
    """A Rich style in the colour of theme variable ``name`` (translucent ones blended)."""
    return _STYLES.get(variables, name, bold)


def _make_style(variables: Mapping[str, str], name: str, bold: bool) -> Style:
    value = variables.get(name)
    if not value:
        return Style(bold=bold)
    try:
        colour = Color.parse(value)
        if colour.a < 1:
            # Variables like foreground-muted carry alpha; Rich needs an opaque colour.
            colour = Color.parse(variables.get("background", "#000000")) + colour
    except ColorParseError:
        return Style(bold=bold)
    return Style(color=colour.rich_color, bold=bold)


def shown_text(text: str) -> str:
    """``text`` as a cell shows it: control sequences removed."""
    # Host names, labels and groups come from inventories and ssh configs: an escape
    # sequence there must not reach the terminal (Rich keeps ESC in a Text).
    return text if text.isprintable() else strip_control(text)


def plain(text: str) -> Text:
    """Text that is shown as written: DataTable would parse a plain str as markup, and
    control sequences are removed."""
    return Text(shown_text(text), end="")


def styled(text: str, style: Style) -> Text:
    return Text(shown_text(text), style=style, end="")
