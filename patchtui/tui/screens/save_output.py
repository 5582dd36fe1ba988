"""Ask where to save a host's output (the output panes' ctrl+s)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SaveOutputScreen(ModalScreen[Path | None]):
    """Returns the path typed (Enter; the default is filled in), or None (escape)."""

    DEFAULT_CSS = """
    SaveOutputScreen {
        align: center middle;
        background: $background 60%;
    }
    SaveOutputScreen .dialog {
        width: 80;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, host: str, default: Path) -> None:
        super().__init__()
        self.host = host
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # Content, not markup: host names may contain brackets.
            yield Static(Content(f"Save the output of {self.host}"), classes="dialog-title")
            yield Input(value=str(self.default), id="save-path")
            yield Static(
                Content(
                    "enter: save (an existing file is replaced only if you agree) · escape: cancel"
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    @on(Input.Submitted, "#save-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


__all__ = ["SaveOutputScreen"]
