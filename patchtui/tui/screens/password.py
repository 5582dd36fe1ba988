"""Ask for the sudo (become) password once, for one run.

The value goes straight back to the caller and from there to the connector of
that run only: the screen keeps no copy after it closes (the input is cleared),
and nothing here logs, stores or shows it.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PasswordScreen(ModalScreen[str | None]):
    """Returns the password typed (Enter), or None (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, prompt: str = "sudo password for this run") -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="password-box", classes="dialog"):
            yield Static(Content(self.prompt), classes="dialog-title")
            yield Input(password=True, placeholder="password", id="password")
            yield Static(
                Content("kept in memory for this run only · enter: continue · escape: cancel"),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value
        # Drop the widget's copy before handing the value on.
        event.input.value = ""
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.query_one("#password", Input).value = ""
        self.dismiss(None)


__all__ = ["PasswordScreen"]
