"""A yes/no question before anything changes hosts: what, how many, how many in prod."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from patchtui.engine.rollout import prod_count, typed_confirmation
from patchtui.inventory.model import Host


def hosts_line(verb: str, hosts: Sequence[Host]) -> str:
    """``Patch 6 hosts (4 labelled env=prod)`` — the same wording as the headless prompt."""
    count = len(hosts)
    return f"{verb} {count} host{'s' if count != 1 else ''} ({prod_count(hosts)} labelled env=prod)"


class ConfirmScreen(ModalScreen[bool]):
    """Returns True only for an explicit yes (button or ``y``); anything else is no.

    With ``typed`` (a big or production change), yes is typing that text and Enter:
    a ``y`` pressed by a slip cannot patch or reboot production (k9s asks the same way).
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(
        self,
        title: str,
        lines: Sequence[str],
        *,
        yes_label: str = "Yes",
        typed: str | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.lines = list(lines)
        self.yes_label = yes_label
        self.typed = typed

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog"):
            yield Static(Content(self.title_text), classes="dialog-title")
            # Content, not markup: host names and commands may contain brackets.
            yield Static(Content("\n".join(self.lines)), id="confirm-body")
            if self.typed is not None:
                yield Input(
                    placeholder=f"type {self.typed} and press enter to confirm",
                    id="confirm-typed",
                    compact=True,
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    self.yes_label,
                    variant="warning",
                    id="confirm-yes",
                    disabled=self.typed is not None,
                )
                yield Button("Cancel", id="confirm-no")
            hint = (
                f"type {self.typed} then enter: yes · escape: no"
                if self.typed is not None
                else "y: yes · n or escape: no"
            )
            yield Static(Content(hint), classes="dialog-hint")

    def on_mount(self) -> None:
        if self.typed is not None:
            self.query_one("#confirm-typed", Input).focus()
        else:
            # Focus "Cancel": an Enter pressed out of habit must not start a rollout.
            self.query_one("#confirm-no", Button).focus()

    @property
    def body_text(self) -> str:
        return "\n".join(self.lines)

    def action_answer(self, answer: bool) -> None:
        if answer and self.typed is not None:
            return  # only the typed text says yes here
        self.dismiss(answer)

    @on(Input.Changed, "#confirm-typed")
    def _typed_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-yes", Button).disabled = event.value.strip() != self.typed

    @on(Input.Submitted, "#confirm-typed")
    def _typed_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.typed:
            self.dismiss(True)
        else:
            self.notify(f"Type {self.typed} exactly, or escape to cancel.", severity="warning")

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)


__all__ = ["ConfirmScreen", "hosts_line", "prod_count", "typed_confirmation"]
