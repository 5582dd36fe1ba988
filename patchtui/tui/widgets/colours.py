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


def theme_style(variables: Mapping[str, str], name: str, *, bold: bool = False) -> Style:
    """A Rich style in the colour of theme variable ``name`` (translucent ones blended)."""
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


def plain(text: str) -> Text:
    """Text that is shown as written: DataTable would parse a plain str as markup."""
    return Text(text, end="")


def styled(text: str, style: Style) -> Text:
    return Text(text, style=style, end="")
