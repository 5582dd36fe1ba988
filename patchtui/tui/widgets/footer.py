"""A footer that rebuilds its keys only when the keys it shows change.

Textual's ``Footer`` recomposes (removes and mounts a widget per key, then lays
the screen out again) on every bindings refresh, and a bindings refresh follows
every focus change and screen switch. Most of those leave the keys exactly as
they were: moving into the filter box and back, or returning from a pushed
screen. On a busy fleet each needless rebuild cost the key that caused it a
layout of the whole screen, so this footer compares what it would show with
what it shows and skips the rebuild when nothing differs.

It also stops a leak: each ``FooterKey`` binds its ``compact`` to the footer's
(``data_bind``), which adds the key to the footer's watcher list, and Textual
prunes that list only when ``compact`` changes, which it never does here. Every
rebuild left its ~16 removed keys (and their styles) alive: 750 of them after
the 20 s console benchmark, and more collector work on every full collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widget import Widget
from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.binding import Binding
    from textual.screen import Screen

KeySignature = tuple[tuple["Binding", bool, str], ...]


def key_signature(screen: Screen[object]) -> KeySignature:
    """Everything the footer draws from: each active binding, whether enabled, its tooltip."""
    return tuple(
        (binding, enabled, tooltip)
        for _, binding, enabled, tooltip in screen.active_bindings.values()
    )


class SteadyFooter(Footer):
    """``Footer`` that recomposes only when the active bindings differ from those shown."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._shown_keys: KeySignature | None = None
        """What the last compose drew from (None: nothing composed from bindings yet)."""

    def compose(self) -> ComposeResult:
        # A rebuild removed the old keys before composing new ones: forget them.
        self._forget_removed_keys()
        if self._bindings_ready:
            self._shown_keys = key_signature(self.screen)
        yield from super().compose()

    def _forget_removed_keys(self) -> None:
        """Drop watchers that removed widgets left on this footer (see the module doc)."""
        # Textual keeps watchers in an attribute literally named "__watchers" (reactive.py).
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [
                (node, callback)
                for node, callback in entries
                if not (isinstance(node, Widget) and not node.is_attached)
            ]

    def bindings_changed(self, screen: Screen[object]) -> None:
        if (
            self._shown_keys is not None
            and self.is_attached
            and screen is self.screen
            and key_signature(screen) == self._shown_keys
        ):
            return  # the same keys: a rebuild would draw exactly what is on screen
        super().bindings_changed(screen)


__all__ = ["SteadyFooter", "key_signature"]
