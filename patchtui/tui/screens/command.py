"""Ask for an ad-hoc shell command for the selected hosts (``patchtui run`` in the console)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static


@dataclass(frozen=True)
class CommandRequest:
    command: str
    privileged: bool = False


class CommandScreen(ModalScreen[CommandRequest | None]):
    """Returns the command line (Enter) and whether to run it as root, or None (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, host_count: int) -> None:
        super().__init__()
        self.host_count = host_count

    def compose(self) -> ComposeResult:
        plural = "s" if self.host_count != 1 else ""
        with Vertical(id="command-box", classes="dialog"):
            yield Static(
                Content(f"Run a command on {self.host_count} host{plural}"),
                classes="dialog-title",
            )
            yield Input(placeholder="shell command, e.g. uptime", id="command")
            yield Checkbox("as root (sudo, the inventory's become)", id="privileged")
            yield Static(id="command-error", classes="dialog-error")
            yield Static(
                Content("enter: continue (you confirm next) · escape: cancel"),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    @on(Input.Submitted, "#command")
    def _submitted(self, event: Input.Submitted) -> None:
        command = event.value.strip()
        if not command:
            error = self.query_one("#command-error", Static)
            error.update(Content("the command is empty"))
            error.add_class("-shown")
            return
        privileged = self.query_one("#privileged", Checkbox).value
        self.dismiss(CommandRequest(command=command, privileged=privileged))

    def action_cancel(self) -> None:
        self.dismiss(None)


__all__ = ["CommandRequest", "CommandScreen"]
