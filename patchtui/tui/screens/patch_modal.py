"""The patch form: what to install, how to roll it out, whether to reboot.

``options_from_form`` is pure: it turns the form's raw text into the engine's
``PatchOptions`` with the same rules (and the same error messages) as the
headless ``patchtui patch`` flags, so the console and the CLI cannot drift.
The modal shows a ``ConfigError`` inline and stays open until the form is valid.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from patchtui.engine.health import HealthGate
from patchtui.engine.patch import REBOOT_POLICIES, PatchOptions
from patchtui.engine.rollout import Amount, RolloutPlan
from patchtui.engine.windows import window_notice
from patchtui.errors import ConfigError
from patchtui.inventory.model import Host
from patchtui.tui.screens.confirm import hosts_line


@dataclass(frozen=True)
class PatchForm:
    """The form's raw values, as typed."""

    security_only: bool = False
    packages: str = ""
    exclude: str = ""
    dist_upgrade: bool = False
    canary: str = "0"
    batch: str = ""
    max_failures: str = ""
    reboot: str = "if-needed"
    pre: str = ""
    post: str = ""
    dry_run: bool = False
    ask_password: bool = False
    ignore_window: bool = False
    wait_for_window: bool = False
    health_check: str = ""
    health_url: str = ""
    rollback_on_failure: bool = False
    blue_green: str = ""
    idle: str = ""
    switch: str = ""


@dataclass(frozen=True)
class PatchRequest:
    """What the form asks for: the options, and whether to ask for a sudo password."""

    options: PatchOptions
    ask_password: bool = False
    canary_pattern: str | None = None
    form: PatchForm | None = None
    """The form as typed, for the next time it opens."""
    """The canary field held a host pattern, not a count: these hosts are the canaries."""


def options_from_form(form: PatchForm, base: PatchOptions | None = None) -> PatchOptions:
    """``PatchOptions`` from the form; ConfigError (one line) for anything invalid.

    ``base`` carries what the form does not show (time limits, poll interval).
    """
    # The headless flags' parser is the one definition of a package list: same globs,
    # same name checks, same messages.
    from patchtui.headless.patch_command import selection_from_args

    selection = selection_from_args(
        argparse.Namespace(
            packages=[form.packages] if form.packages.strip() else None,
            exclude=[form.exclude] if form.exclude.strip() else None,
            security_only=form.security_only,
            dist_upgrade=form.dist_upgrade,
        )
    )
    canary_text = form.canary.strip() or "0"
    canary = 0
    if canary_text.lstrip("-").isdigit():
        canary = int(canary_text)
        if canary < 0:
            raise ConfigError("canary must be 0 or more")
    # Anything else is a host pattern (canary_pattern): the app resolves it.
    batch = Amount.parse(form.batch, flag="batch") if form.batch.strip() else None
    if batch is not None and batch.value == 0:
        raise ConfigError("batch must be at least 1 host (or leave it empty: all at once)")
    max_failures = (
        Amount.parse(form.max_failures, flag="max failures") if form.max_failures.strip() else None
    )
    if form.wait_for_window and form.ignore_window:
        raise ConfigError("wait for windows or ignore them: not both")
    if form.reboot not in REBOOT_POLICIES:
        raise ConfigError(f"reboot policy must be one of {', '.join(REBOOT_POLICIES)}")
    # The headless flags' rules again: the same gate, the same messages.
    from patchtui.headless.gate_args import gates_from_args

    timing = base.health if base is not None and base.health is not None else HealthGate()
    gates = gates_from_args(
        argparse.Namespace(
            health_check=form.health_check.strip() or None,
            health_url=form.health_url.strip() or None,
            # The form does not show the gate's timing: the base's (or the flags' defaults).
            health_timeout=timing.timeout,
            health_interval=timing.interval,
            rollback_on_failure=form.rollback_on_failure,
        )
    )
    return dataclasses.replace(
        base or PatchOptions(),
        selection=selection,
        canary=canary,
        batch=batch,
        max_failures=max_failures,
        reboot=form.reboot,
        pre=form.pre.strip() or None,
        post=form.post.strip() or None,
        dry_run=form.dry_run,
        ignore_window=form.ignore_window,
        wait_for_window=form.wait_for_window,
        install=True,
        **gates,
    )


def with_blue_green(
    options: PatchOptions, hosts: Sequence[Host], form: PatchForm | None
) -> PatchOptions:
    """The options with the form's blue-green colours of ``hosts`` (the headless flags'
    rules and messages); ConfigError when they do not split the hosts in two."""
    from patchtui.headless.gate_args import blue_green_from_args

    if form is None:
        return options
    blue_green = blue_green_from_args(
        argparse.Namespace(
            blue_green=form.blue_green.strip() or None,
            idle=form.idle.strip() or None,
            switch=form.switch.strip() or None,
        ),
        hosts,
    )
    return dataclasses.replace(options, blue_green=blue_green)


def _names(names: Sequence[str], shown: int = 4) -> str:
    text = ", ".join(names[:shown])
    return text + (f", … ({len(names)} in all)" if len(names) > shown else "")


def confirmation_lines(
    verb: str,
    hosts: Sequence[Host],
    options: PatchOptions,
    plan: RolloutPlan,
    *,
    chosen_by: str = "",
    closed: Mapping[str, tuple[dt.datetime, str]] | None = None,
) -> list[str]:
    """What the confirmation says: hosts and prod count, how they were chosen, what is
    installed, windows, canaries, waves, limits.

    ``closed``: hosts outside their maintenance window now, with when it next opens.
    """
    selection = options.selection
    lines = [hosts_line(verb, hosts) + (f", {chosen_by}" if chosen_by else "")]
    if options.dry_run:
        lines.append("Dry run: each host reports what it would install; nothing is changed.")
    lines.extend(
        window_notice(
            closed or {},
            len(hosts),
            ignore=options.ignore_window,
            wait=options.wait_for_window,
        )
    )
    if options.blue_green is not None:
        lines.extend(options.blue_green.lines())
    what = "security updates" if selection.security_only else "all pending updates"
    if selection.packages:
        what += " among " + ", ".join(selection.packages)
    if selection.exclude:
        what += " except " + ", ".join(selection.exclude)
    if selection.dist_upgrade:
        what += " (dist-upgrade)"
    lines.append(f"Installs: {what}")
    waves = [
        f"{plan.wave_label(index)}: {_names([host.name for host in wave])}"
        for index, wave in enumerate(plan.waves)
    ]
    if plan.canaries:
        lines.append(f"Canaries: {_names(list(plan.canaries))} ({plan.canary_note})")
    elif options.canary:
        lines.append(f"Canaries: none ({plan.canary_note})")
    lines.append(f"Waves ({len(plan.waves)}):")
    lines.extend(f"  {wave}" for wave in waves[:6])
    if len(waves) > 6:
        lines.append(f"  … {len(waves) - 6} more waves")
    # The engine halts once failures exceed max_failures: 0 allowed = the first one halts.
    halts = (
        "Halts on the first failure"
        if plan.max_failures == 0
        else f"Halts when more than {plan.max_failures} host"
        + (" fails" if plan.max_failures == 1 else "s fail")
    )
    if plan.canary_count:
        halts += " (or any canary failure)"
    lines.append(f"{halts} · reboot: {options.reboot}")
    if options.pre:
        lines.append(f"Pre: {options.pre}")
    if options.post:
        lines.append(f"Post: {options.post}")
    lines.extend(gate_lines(options))
    return lines


def gate_lines(options: PatchOptions) -> list[str]:
    """The confirmation's word on health gates and rollback on failure."""
    lines: list[str] = []
    gate = options.health
    if gate is not None:
        probes = [f"`{gate.command}` on the host"] if gate.command else []
        probes += [f"GET {gate.url}"] if gate.url else []
        lines.append(
            f"Health gate: {' and '.join(probes)}, every {gate.interval:g}s for up to "
            f"{gate.timeout:g}s; an unhealthy host fails"
        )
    if options.rollback_on_failure:
        lines.append("Rollback on failure: a failed host gets its previous versions back")
    return lines


class PatchModal(ModalScreen[PatchRequest | None]):
    """The patch form over the hosts screen; returns a PatchRequest, or None if cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "submit", "Review", show=False),
        # Priority: the focus moves before the next key is routed. Textual routes a key
        # to the widget focused when it arrives, and a plain tab binding moves the focus
        # only once the tab has bubbled up, so in a burst ('Tab Tab 1 Tab 2', a paste,
        # a fast typist) the digits went to the field being left and were lost.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    def __init__(
        self,
        host_count: int,
        *,
        base: PatchOptions | None = None,
        last: PatchForm | None = None,
    ) -> None:
        super().__init__()
        self.host_count = host_count
        self.base = base or PatchOptions()
        self.last = last
        """The form as last submitted this session: filled in again (dry run aside)."""

    def compose(self) -> ComposeResult:
        plural = "s" if self.host_count != 1 else ""
        with Vertical(id="patch-box", classes="dialog"):
            yield Static(Content(f"Patch {self.host_count} host{plural}"), classes="dialog-title")
            with Grid(id="patch-grid"):
                yield Label("What")
                with Horizontal(classes="checks"):
                    yield Checkbox("security updates only", id="security-only", compact=True)
                    yield Checkbox("dist-upgrade (apt)", id="dist-upgrade", compact=True)
                yield Label("Packages")
                yield Input(
                    placeholder="all pending; or names/globs: openssl, libssl*",
                    id="packages",
                    compact=True,
                )
                yield Label("Exclude")
                yield Input(
                    placeholder="names/globs never installed: kernel*", id="exclude", compact=True
                )
                yield Label("Canary hosts")
                yield Input(
                    "0",
                    placeholder="N hosts whose last scan was ok, or a pattern: web-01,env=staging",
                    id="canary",
                    compact=True,
                )
                yield Label("Batch")
                yield Input(
                    placeholder="all at once; or N or N% per wave", id="batch", compact=True
                )
                yield Label("Max failures")
                yield Input(
                    placeholder="0; or N or N% before the run halts",
                    id="max-failures",
                    compact=True,
                )
                yield Label("Reboot")
                yield Select(
                    [(policy, policy) for policy in REBOOT_POLICIES],
                    value="if-needed",
                    allow_blank=False,
                    id="reboot",
                    compact=True,
                )
                yield Label("Pre command")
                yield Input(
                    placeholder="optional check before patching (failure skips)",
                    id="pre",
                    compact=True,
                )
                yield Label("Post command")
                yield Input(placeholder="optional command after patching", id="post", compact=True)
                yield Label("Health check")
                yield Input(
                    placeholder="optional: on the host after the patch; exit 0 = ok",
                    id="health-check",
                    compact=True,
                )
                yield Label("Health URL")
                yield Input(
                    placeholder="optional: http://{host}/healthz, 2xx = healthy",
                    id="health-url",
                    compact=True,
                )
                yield Label("Blue-green")
                yield Input(
                    placeholder="optional: a label (color) or two groups (blue,green)",
                    id="blue-green",
                    compact=True,
                )
                yield Label("Idle colour")
                yield Input(
                    placeholder="patched first (two groups: the second named)",
                    id="idle",
                    compact=True,
                )
                yield Label("Switch")
                yield Input(
                    placeholder="command on this machine once the idle colour is all ok",
                    id="switch",
                    compact=True,
                )
                yield Label("On failure")
                with Horizontal(classes="checks"):
                    yield Checkbox(
                        "roll the host back to its previous versions", id="rollback", compact=True
                    )
                yield Label("Run")
                with Horizontal(classes="checks"):
                    yield Checkbox("dry run (change nothing)", id="dry-run", compact=True)
                    yield Checkbox("ask sudo password", id="ask-password", compact=True)

                yield Label("Windows")
                with Horizontal(classes="checks"):
                    yield Checkbox("wait for windows", id="wait-for-window", compact=True)
                    yield Checkbox(
                        "ignore windows (emergency)",
                        id="ignore-window",
                        compact=True,
                    )
            yield Static(id="patch-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Review…", variant="primary", id="patch-review")
                yield Button("Cancel", id="patch-cancel")
            yield Static(
                Content("tab: next field · ctrl+s: review · escape: cancel"),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        if self.last is not None:
            self._fill(self.last)
        self.query_one("#security-only", Checkbox).focus()

    def _fill(self, form: PatchForm) -> None:
        for widget_id, value in (
            ("packages", form.packages),
            ("exclude", form.exclude),
            ("canary", form.canary),
            ("batch", form.batch),
            ("max-failures", form.max_failures),
            ("pre", form.pre),
            ("post", form.post),
            ("health-check", form.health_check),
            ("health-url", form.health_url),
            ("blue-green", form.blue_green),
            ("idle", form.idle),
            ("switch", form.switch),
        ):
            self.query_one(f"#{widget_id}", Input).value = value
        for widget_id, ticked in (
            ("security-only", form.security_only),
            ("dist-upgrade", form.dist_upgrade),
            ("ask-password", form.ask_password),
            ("rollback", form.rollback_on_failure),
            ("wait-for-window", form.wait_for_window),
        ):
            self.query_one(f"#{widget_id}", Checkbox).value = ticked
        # Dry run and ignoring windows are one-off choices: never carried over unseen.
        self.query_one("#reboot", Select).value = form.reboot

    def form(self) -> PatchForm:
        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value

        def ticked(widget_id: str) -> bool:
            return self.query_one(f"#{widget_id}", Checkbox).value

        reboot = self.query_one("#reboot", Select).value
        return PatchForm(
            security_only=ticked("security-only"),
            packages=text("packages"),
            exclude=text("exclude"),
            dist_upgrade=ticked("dist-upgrade"),
            canary=text("canary"),
            batch=text("batch"),
            max_failures=text("max-failures"),
            reboot=str(reboot),
            pre=text("pre"),
            post=text("post"),
            dry_run=ticked("dry-run"),
            ask_password=ticked("ask-password"),
            ignore_window=ticked("ignore-window"),
            wait_for_window=ticked("wait-for-window"),
            health_check=text("health-check"),
            health_url=text("health-url"),
            rollback_on_failure=ticked("rollback"),
            blue_green=text("blue-green"),
            idle=text("idle"),
            switch=text("switch"),
        )

    def show_error(self, message: str | None) -> None:
        error = self.query_one("#patch-error", Static)
        error.update(Content(message or ""))
        error.set_class(bool(message), "-shown")

    def action_submit(self) -> None:
        form = self.form()
        try:
            options = options_from_form(form, self.base)
        except ConfigError as error:
            self.show_error(str(error))
            return
        self.show_error(None)
        canary = form.canary.strip()
        pattern = None if not canary or canary.lstrip("-").isdigit() else canary
        self.dismiss(
            PatchRequest(
                options=options,
                ask_password=form.ask_password,
                canary_pattern=pattern,
                form=form,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#patch-review")
    def _review(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#patch-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _enter(self) -> None:
        # Enter in any field reviews, as in a web form.
        self.action_submit()


__all__ = [
    "PatchForm",
    "PatchModal",
    "PatchRequest",
    "confirmation_lines",
    "options_from_form",
    "with_blue_green",
]
