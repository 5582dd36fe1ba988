"""Themes as data: YAML files holding Textual ``Theme`` fields, and the remembered choice.

The files live in ``themes/`` at the repository root. Installed, they are the
package data ``patchtui/themes/*.yaml`` (see the report for the pyproject
mapping); from a source checkout or an editable install they are read from the
repository. A broken theme file is reported and skipped: a typo in a colour
must not stop anyone from opening the console.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

from patchtui import paths

DEFAULT_THEME = "patchtui-dark"
SETTINGS_FILE = "console.json"

_THEME_FIELDS = {each.name for each in dataclasses.fields(Theme)}
_COLOUR_FIELDS = {
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
}


class ThemeFileError(ValueError):
    """A theme file that cannot become a Theme; the message names the file and field."""


def theme_from_mapping(data: object, *, source: str) -> Theme:
    """Validate one parsed theme file and build the Theme (unknown keys are errors)."""
    if not isinstance(data, dict):
        raise ThemeFileError(f"{source}: expected a mapping of theme fields")
    unknown = sorted(set(data) - _THEME_FIELDS)
    if unknown:
        raise ThemeFileError(f"{source}: unknown field(s): {', '.join(map(str, unknown))}")
    for required in ("name", "primary"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise ThemeFileError(f"{source}: '{required}' must be a non-empty string")
    for name in _COLOUR_FIELDS & set(data):
        value = data[name]
        try:
            Color.parse(str(value))
        except ColorParseError:
            raise ThemeFileError(f"{source}: {name}: not a colour: {value!r}") from None
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{source}: 'variables' must be a mapping")
    fields = dict(data)
    fields["variables"] = {str(key): str(value) for key, value in variables.items()}
    try:
        return Theme(**fields)
    except (TypeError, ValueError) as error:
        raise ThemeFileError(f"{source}: {error}") from None


def theme_dirs() -> list[Traversable]:
    """Where theme files are: ``patchtui/themes``, installed as package data.

    In the source tree that is a link to the top-level ``themes/`` folder, so
    both a checkout and an installed wheel read the same files.
    """
    found = resources.files("patchtui") / "themes"
    return [found] if found.is_dir() else []


def load_themes(dirs: Iterable[Traversable] | None = None) -> tuple[list[Theme], list[str]]:
    """Every theme found, first directory winning per name, and the errors of broken files."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in theme_dirs() if dirs is None else dirs:
        for entry in sorted(directory.iterdir(), key=lambda each: each.name):
            if not entry.name.endswith((".yaml", ".yml")):
                continue
            try:
                data = yaml.safe_load(entry.read_text("utf-8"))
                theme = theme_from_mapping(data, source=entry.name)
            except (ThemeFileError, yaml.YAMLError, OSError, UnicodeDecodeError) as error:
                errors.append(str(error).splitlines()[0])
                continue
            themes.setdefault(theme.name, theme)
    return list(themes.values()), errors


# ---------------------------------------------------------------- remembered choice


def settings_path() -> Path:
    return paths.config_dir() / SETTINGS_FILE


def saved_theme() -> str | None:
    """The theme chosen last time, or None if none was saved or the file is unreadable."""
    try:
        data = json.loads(settings_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    theme = data.get("theme") if isinstance(data, dict) else None
    return theme if isinstance(theme, str) else None


def save_theme(name: str) -> None:
    """Remember ``name``; other settings in the file are kept. Best effort: never raises."""
    path = settings_path()
    try:
        data = json.loads(path.read_text("utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data["theme"] = name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
        os.replace(temporary, path)  # a crash mid-write must not leave half a file
    except OSError:
        pass
