"""The footer: the focused widget's keys, drawn as one line of one widget.

Textual's ``Footer`` is a container holding a widget per key. It removes and
mounts all of them on every bindings refresh, and a bindings refresh follows
every focus change, screen switch and keystroke in the filter box. On a fleet
streaming output that made the footer the largest cost of those keys: each
rebuild mounted ~16 widgets, styled each (Textual makes two throw-away DOM
nodes per key for its component classes), laid the screen out again, and left
all of it as cyclic garbage for the collector (benchmarks/console_load.py:
typing in the filter took twice as long with it; full collections 154 vs 67 ms).
Its ``data_bind`` also kept every removed key alive through the footer's
watcher list.

``KeyFooter`` draws the same line (key, description; the command palette's key
on the right) as text from ``screen.active_bindings``, and only repaints when
that changes. Clicking a key presses it, a disabled key rings the bell, and the
key under the mouse is highlighted with its tooltip shown, as with ``Footer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.screen import Screen

PALETTE_SEPARATOR = "▏"


@dataclass(frozen=True)
class ShownKey:
    """One key as the footer shows it."""

    key: str
    """What pressing it sends (``Binding.key``)."""
    display: str
    description: str
    enabled: bool
    tooltip: str


def footer_keys(
    screen: Screen[object], palette_key: str | None
) -> tuple[list[ShownKey], ShownKey | None]:
    """The keys to show for ``screen``'s focused widget: one per action, as ``Footer`` shows
    them, and the command palette's key apart (None when the palette is off)."""
    shown: dict[str, ShownKey] = {}
    palette: ShownKey | None = None
    for key, (_, binding, enabled, tooltip) in screen.active_bindings.items():
        if palette_key is not None and key == palette_key:
            palette = ShownKey(
                binding.key,
                screen.app.get_key_display(binding),
                binding.description,
                enabled,
                binding.tooltip or binding.description,
            )
        if binding.show and binding.action not in shown:
            shown[binding.action] = ShownKey(
                binding.key,
                screen.app.get_key_display(binding),
                binding.description,
                enabled,
                tooltip,
            )
    return list(shown.values()), palette


class KeyFooter(Widget, can_focus=False):
    """A one-line footer of the focused widget's keys, repainted only when they change."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "footer--key",
        "footer--description",
        "footer--hover",
        "footer--separator",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyFooter > .footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyFooter > .footer--hover {
        background: $block-hover-background;
    }
    KeyFooter > .footer--separator {
        color: $foreground 20%;
    }
    """

    def __init__(self, *, show_command_palette: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_command_palette = show_command_palette
        self.keys: list[ShownKey] = []
        """The keys shown, left to right."""
        self.palette_key: ShownKey | None = None
        """The command palette's key, shown on the right."""
        self._spans: list[tuple[int, int, ShownKey]] = []
        """Cells each key took in the last render: what a click or hover is over."""
        self._hovered: ShownKey | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.screen:
            return
        palette = self.app.COMMAND_PALETTE_BINDING
        use_palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
        keys, palette_key = footer_keys(screen, palette if use_palette else None)
        if keys != self.keys or palette_key != self.palette_key:
            self.keys, self.palette_key = keys, palette_key
            self._hovered = None
            self.refresh()

    @property
    def shown_keys(self) -> list[str]:
        """The keys on screen, the palette's last (tests and benchmarks read this)."""
        return [key.key for key in self.keys] + (
            [self.palette_key.key] if self.palette_key is not None else []
        )

    # ------------------------------------------------------------ drawing

    def _key_text(self, key: ShownKey, *, left: str = " ") -> Text:
        text = Text(no_wrap=True, end="")
        text.append(f"{left}{key.display} ", self.get_component_rich_style("footer--key"))
        if key.description:
            text.append(f"{key.description} ", self.get_component_rich_style("footer--description"))
        if not key.enabled:
            text.stylize(Style(dim=True))
        if key == self._hovered:
            text.stylize(self.get_component_rich_style("footer--hover"))
        return text

    def render(self) -> Text:
        width = self.size.width
        line = Text(no_wrap=True, end="")
        spans: list[tuple[int, int, ShownKey]] = []
        right = Text(no_wrap=True, end="")
        if self.palette_key is not None:
            right.append(PALETTE_SEPARATOR, self.get_component_rich_style("footer--separator"))
            right.append_text(self._key_text(self.palette_key, left=""))
        room = max(0, width - right.cell_len)
        for key in self.keys:
            start = line.cell_len
            if start >= room:
                break
            line.append_text(self._key_text(key))
            spans.append((start, min(line.cell_len, room), key))
        line.truncate(room, pad=True)
        if self.palette_key is not None and right.cell_len <= width:
            spans.append((room, width, self.palette_key))
            line.append_text(right)
        self._spans = spans
        return line

    # ------------------------------------------------------------ mouse

    def _key_at(self, x: int) -> ShownKey | None:
        for start, end, key in self._spans:
            if start <= x < end:
                return key
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        hovered = self._key_at(event.x)
        if hovered != self._hovered:
            self._hovered = hovered
            self.tooltip = (hovered.tooltip or None) if hovered is not None else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        key = self._key_at(event.x)
        if key is None:
            return
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()


__all__ = ["KeyFooter", "ShownKey", "footer_keys"]
