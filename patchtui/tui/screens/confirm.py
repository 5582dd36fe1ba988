"""A yes/no question before anything changes hosts: what, how many, how many in prod."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from patchtui.inventory.model import Host


def prod_count(hosts: Sequence[Host]) -> int:
    """Hosts labelled ``env=prod``: the number an operator must see before saying yes."""
    return sum(1 for host in hosts if str(host.labels.get("env", "")).lower() == "prod")


def hosts_line(verb: str, hosts: Sequence[Host]) -> str:
    """``Patch 6 hosts (4 labelled env=prod)`` — the same wording as the headless prompt."""
    count = len(hosts)
    return f"{verb} {count} host{'s' if count != 1 else ''} ({prod_count(hosts)} labelled env=prod)"


class ConfirmScreen(ModalScreen[bool]):
    """Returns True only for an explicit yes (button or ``y``); anything else is no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, lines: Sequence[str], *, yes_label: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.lines = list(lines)
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog"):
            yield Static(Content(self.title_text), classes="dialog-title")
            # Content, not markup: host names and commands may contain brackets.
            yield Static(Content("\n".join(self.lines)), id="confirm-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, variant="warning", id="confirm-yes")
                yield Button("Cancel", id="confirm-no")
            yield Static(Content("y: yes · n or escape: no"), classes="dialog-hint")

    def on_mount(self) -> None:
        # Focus "Cancel": an Enter pressed out of habit must not start a rollout.
        self.query_one("#confirm-no", Button).focus()

    @property
    def body_text(self) -> str:
        return "\n".join(self.lines)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)


__all__ = ["ConfirmScreen", "hosts_line", "prod_count"]
