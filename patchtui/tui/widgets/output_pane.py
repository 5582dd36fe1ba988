"""One host's live output: bounded scrollback, follow/unfollow and search.

``OutputPane`` shows the lines the ``EventBridge`` keeps for one host. It is
drawn from the bridge by the timer that drains it (``sync``), never by a
message per line. Host output is data: the bridge strips terminal control
sequences and the pane draws lines with Textual's ``Log``, which never reads
markup, so ``[red]`` or ``\\x1b[31m`` from a host are shown harmlessly.

Following (the default) keeps the newest line in view. Scrolling up, jumping
to a search match or pressing ``f`` stops following: new lines then arrive
without moving the view, and the pane counts them ("37 new lines") until
``f`` follows again. When the scrollback is full, old lines fall off the top;
an unfollowed view is shifted by as many lines so it stays on what it showed.

``w`` wraps long lines (else they scroll sideways), ``t`` starts each line with
the time it arrived (the bridge records it from the app's clock), and
``ctrl+s`` saves the host's output as plain text to a file (``store/savefile.py``:
never through a link, never over a file without asking). Without either mode the
pane draws through ``Log``'s own fast path.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color, ColorParseError
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import Input, Log

from patchtui.engine.events import HostState
from patchtui.errors import PatchtuiError
from patchtui.store.savefile import SaveExists, save_text
from patchtui.textsafe import strip_control
from patchtui.tui.screens.confirm import ConfirmScreen
from patchtui.tui.screens.save_output import SaveOutputScreen

if TYPE_CHECKING:
    from patchtui.tui.bridge import EventBridge

DEFAULT_SCROLLBACK = 2_000
"""Lines a pane keeps when the caller does not say: the bridge's own bound."""


class SearchHighlighter(Highlighter):
    """Marks every case-insensitive occurrence of the search text in a line."""

    def __init__(self) -> None:
        self.pattern: re.Pattern[str] | None = None
        self.style = Style(reverse=True, bold=True)

    def highlight(self, text: Text) -> None:
        if self.pattern is None:
            return
        for match in self.pattern.finditer(text.plain):
            text.stylize(self.style, match.start(), match.end())


def search_pattern(term: str) -> re.Pattern[str] | None:
    """The search is for plain text: regex characters in ``term`` match themselves."""
    return re.compile(re.escape(term), re.IGNORECASE) if term else None


class OutputLog(Log):
    """A ``Log`` that knows whether it follows new lines, and the current search match."""

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        # highlight=True only switches on our highlighter (search matches); Log never
        # parses markup, and the highlighter adds styles, never reads the text as markup.
        super().__init__(highlight=True, max_lines=max_lines, auto_scroll=True, id=id)
        self.highlighter: SearchHighlighter = SearchHighlighter()
        self.following = True
        self.unseen = 0
        """Lines that arrived while not following (the "N new lines" marker)."""
        self.current_match: int | None = None
        """Index in ``lines`` of the match the view was last moved to."""
        self.wrap = False
        """Long lines wrap onto the next rows instead of scrolling sideways."""
        self.show_times = False
        """Each line starts with the time it arrived (``arrival`` says when)."""
        self.arrival: Callable[[int], float | None] | None = None
        """When the line at an index of ``lines`` arrived (the pane sets it per host)."""
        self._row_ends: list[int] | None = None
        """Wrapped: the row after each line's last row, for ``_rows_width`` columns."""
        self._rows_width = 0

    # ------------------------------------------------------------ wrap and timestamps

    @property
    def plain_rows(self) -> bool:
        """One row a line, as ``Log`` draws it (no wrapping, no timestamps): its fast path."""
        return not (self.wrap or self.show_times)

    def prefix(self, index: int) -> str:
        """What precedes line ``index`` on screen: its arrival time when times are shown."""
        if not self.show_times:
            return ""
        when = self.arrival(index) if self.arrival is not None else None
        return time_prefix(when)

    def _text_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _line_width(self, line: str) -> int:
        if line.isascii() and line.isprintable():
            return len(line)
        return cell_len(self._process_line(line))

    def row_ends(self) -> list[int]:
        """Wrapped: the row just after each line's last row (lines take at least one row)."""
        width = self._text_width()
        if self._row_ends is None or self._rows_width != width:
            extra = TIME_WIDTH if self.show_times else 0
            self._row_ends = list(
                accumulate(
                    max(1, -(-(self._line_width(line) + extra) // width)) for line in self._lines
                )
            )
            self._rows_width = width
        return self._row_ends

    def row_of_line(self, index: int) -> int:
        """The first row line ``index`` is drawn on."""
        if not self.wrap or index <= 0:
            return max(0, index)
        ends = self.row_ends()
        return ends[min(index, len(ends)) - 1] if ends else 0

    def line_at_row(self, row: int) -> tuple[int, int]:
        """(line index, which of its rows) drawn on ``row``."""
        if not self.wrap:
            return row, 0
        ends = self.row_ends()
        index = bisect_right(ends, row)
        if index >= len(ends):
            return len(self._lines), 0
        return index, row - (ends[index - 1] if index else 0)

    def fit_size(self) -> None:
        """Set the scrollable size for the current mode (``Log`` sets its own on writes)."""
        self._row_ends = None
        if self.wrap:
            ends = self.row_ends()
            size = Size(self._rows_width, ends[-1] if ends else 0)
        else:
            size = Size(self._width + (TIME_WIDTH if self.show_times else 0), self.line_count)
        if size != self.virtual_size:
            self.virtual_size = size

    def set_mode(self, *, wrap: bool | None = None, show_times: bool | None = None) -> None:
        """Switch wrapping or timestamps, keeping the same line at the top (or the tail)."""
        top, _ = self.line_at_row(self.scroll_offset.y)
        if wrap is not None:
            self.wrap = wrap
        if show_times is not None:
            self.show_times = show_times
        self.fit_size()
        self._render_line_cache.clear()
        if self.wrap:
            self.scroll_to(x=0, animate=False, immediate=True)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.scroll_to(y=self.row_of_line(top), animate=False, immediate=True)
        self.refresh()

    # ------------------------------------------------------------ writing

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        """Widen the scrollable area for ``lines`` now, on the UI loop.

        ``Log`` measures every write in a new worker thread. A busy pane writes ten
        times a second (six panes in the split view) and switching host writes the
        whole scrollback: each thread costs a start-up and, measuring thousands of
        lines, holds the GIL against the loop that answers keys. Printable ASCII (near
        all package-manager output) is one cell a character, so ``len`` measures it
        without a regex or a width table; anything else is measured the way ``Log`` does.
        """
        if not lines:
            return
        widest = 0
        for line in lines:
            if line.isascii() and line.isprintable():
                width = len(line)
            else:
                width = cell_len(self._process_line(line))
            if width > widest:
                widest = width
        self._update_maximum_width(updates, widest)
        if not self.plain_rows:
            self.fit_size()  # the Log sized itself one row a line, without timestamps

    def append(self, lines: Sequence[str]) -> None:
        """Add lines at the end; follow them or keep the view where it is."""
        if not lines:
            return
        before = len(self.lines)
        scroll_y = self.scroll_offset.y
        old_ends = self.row_ends() if self.wrap and not self.following else None
        added = sum(len(line.splitlines()) or 1 for line in lines)
        # An empty string would be dropped by Log.write_lines; a blank line is output too.
        self.write_lines([line or " " for line in lines], scroll_end=False)
        dropped = before + added - len(self.lines)
        if not self.plain_rows:
            self.fit_size()
        if old_ends and dropped:
            # Wrapped, the view moves up by the rows the dropped lines took.
            dropped_rows = old_ends[min(dropped, len(old_ends)) - 1]
        else:
            dropped_rows = dropped
        if self.current_match is not None:
            self.current_match -= dropped
            if self.current_match < 0:
                self.current_match = None
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.unseen += added
            if dropped:
                # Old lines fell off the top: move up with the text, not with the rows.
                self.scroll_to(y=max(0, scroll_y - dropped_rows), animate=False, immediate=True)

    def replace(self, lines: Sequence[str]) -> None:
        """Show exactly ``lines`` (another host): following, no match."""
        self.clear()
        self.current_match = None
        self.unseen = 0
        self.following = True
        self.append(lines)

    # ------------------------------------------------------------ follow

    def set_following(self, following: bool) -> None:
        self.following = following
        if following:
            self.unseen = 0
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_resize(self, event: events.Resize) -> None:
        # A smaller pane (terminal resized, split view re-laid out) keeps its scroll offset,
        # which now falls short of the end: a following pane must show the tail at once,
        # not only when the next line arrives. After the refresh: the new size applies then.
        if self.following or self.wrap:
            self.call_after_refresh(self._keep_tail)

    def _keep_tail(self) -> None:
        if self.wrap:
            self.fit_size()  # another width: lines wrap onto other rows
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # The reader scrolled up (keys, wheel, scrollbar): stop pulling the view down.
        # Clamping after a clear or a resize lands exactly on the end and does not count.
        if self.following and new_value < old_value and round(new_value) < self.max_scroll_y:
            self.following = False
            self.unseen = 0
            parent = self.parent
            if isinstance(parent, OutputPane):
                parent.update_status()

    # ------------------------------------------------------------ search

    def set_search(self, term: str) -> None:
        self.highlighter.pattern = search_pattern(term)
        self.current_match = None
        self.refresh()

    def match_lines(self) -> list[int]:
        pattern = self.highlighter.pattern
        if pattern is None:
            return []
        return [index for index, line in enumerate(self.lines) if pattern.search(line)]

    def jump(self, *, forward: bool = True) -> int | None:
        """Move the view to the next (or previous) matching line, wrapping; its index."""
        matches = self.match_lines()
        if not matches:
            return None
        if self.current_match is None:
            # The first jump starts from what the reader is looking at.
            start = self.scroll_offset.y
            after = [index for index in matches if index >= start]
            target = after[0] if forward and after else matches[0] if forward else matches[-1]
        elif forward:
            later = [index for index in matches if index > self.current_match]
            target = later[0] if later else matches[0]
        else:
            earlier = [index for index in matches if index < self.current_match]
            target = earlier[-1] if earlier else matches[-1]
        self.current_match = target
        # Reading a match while lines stream in: the view must stay put.
        self.following = False
        self.unseen = 0
        self.scroll_to(
            y=max(0, self.row_of_line(target) - self.scrollable_content_region.height // 2),
            animate=False,
            immediate=True,
        )
        self.refresh()
        return target

    def render_line(self, y: int) -> Strip:
        if self.plain_rows:
            strip = super().render_line(y)
            index = self.scroll_offset.y + y
        else:
            index, strip = self._render_row(y)
        if self.current_match is not None and index == self.current_match:
            strip = strip.apply_style(_background(self.app.theme_variables, "primary-muted"))
        return strip

    def _render_row(self, y: int) -> tuple[int, Strip]:
        """Row ``y`` of the view when wrapping or showing times (``Log`` does neither)."""
        scroll_x, scroll_y = self.scroll_offset
        width = self._text_width()
        style = self.rich_style
        index, part = self.line_at_row(scroll_y + y)
        if index >= len(self._lines):
            return index, Strip.blank(width, style)
        line = self._process_line(self._lines[index])
        text = Text(line, no_wrap=True, end="")
        text.stylize(style)
        if self.highlight:
            text = self.highlighter(text)
        prefix = self.prefix(index)
        if prefix:
            text = Text.assemble(Text(prefix, style=style + Style(dim=True)), text)
        strip = Strip(text.render(self.app.console), cell_len(prefix) + cell_len(line))
        start = part * width if self.wrap else scroll_x
        return index, strip.crop_extend(start, start + width, style)


def safe_name(text: str) -> str:
    """``text`` usable in a file name: anything but letters, digits, . _ - becomes _."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "_"


TIME_FORMAT = "%H:%M:%S"
TIME_WIDTH = len("00:00:00 ")
"""Columns a timestamp takes before its line."""


def time_prefix(when: float | None) -> str:
    """A line's timestamp as shown (local time, like the rest of the console)."""
    if when is None:
        return " " * TIME_WIDTH  # arrived before timestamps were kept: nothing to say
    return time.strftime(TIME_FORMAT, time.localtime(when)) + " "


def _background(variables: dict[str, str], name: str) -> Style:
    try:
        colour = Color.parse(variables.get(name, ""))
    except ColorParseError:
        return Style(underline=True)
    if colour.a < 1:
        colour = Color.parse(variables.get("background", "#000000")) + colour
    return Style(bgcolor=colour.rich_color)


def pane_bindings(*, search_keys: str) -> list[BindingType]:
    """An output pane's keys; only the keys that open its search differ between panes."""
    return [
        Binding("f", "toggle_follow", "Follow", tooltip="Follow new lines / hold the view"),
        Binding(search_keys, "search", "Search", tooltip="Search this host's output"),
        Binding("n", "next_match", "Next", tooltip="Next search match"),
        Binding("N", "previous_match", "Prev", tooltip="Previous search match"),
        Binding("w", "toggle_wrap", "Wrap", tooltip="Wrap long lines / scroll sideways"),
        Binding("t", "toggle_times", "Times", tooltip="Show the time each line arrived"),
        Binding("ctrl+s", "save", "Save", tooltip="Save this host's output to a file"),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]


class OutputPane(Vertical):
    """A titled output log for one host, with follow/unfollow and a search box."""

    DEFAULT_CSS = """
    OutputPane {
        height: 1fr;
    }
    OutputPane > OutputLog {
        height: 1fr;
        border: round $border-blurred;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        background: $background;
        color: $foreground;
    }
    OutputPane > OutputLog:focus {
        border: round $border;
        border-title-color: $text-accent;
    }
    OutputPane > OutputLog.-paused {
        border-subtitle-color: $text-warning;
    }
    OutputPane > Input {
        display: none;
        height: 3;
        border: tall $border-blurred;
        background: $surface;
    }
    OutputPane > Input.-shown {
        display: block;
    }
    OutputPane > Input:focus {
        border: tall $border;
    }
    """

    BINDINGS = pane_bindings(search_keys="slash,ctrl+f")

    def __init__(
        self,
        *,
        scrollback: int = DEFAULT_SCROLLBACK,
        log_id: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.scrollback = scrollback
        self.log_id = log_id
        self.host: str | None = None
        self.state: HostState | None = None
        self.search_term = ""
        self.title_text = "output"
        """The title as shown (host · state)."""
        self._seen = 0
        """How many of the bridge's lines for ``host`` the log has (``line_count``)."""
        self._bridge: EventBridge | None = None
        self.saved_to: Path | None = None
        """Where this host's output was last saved (the status line says so)."""

    def compose(self) -> ComposeResult:
        # The search box is made when first wanted (``search_input``): most panes are
        # never searched, and six hidden inputs made opening the split view slower.
        yield OutputLog(max_lines=self.scrollback, id=self.log_id)

    def on_mount(self) -> None:
        self.update_title()
        self.update_status()

    @property
    def output_log(self) -> OutputLog:
        return self.query_one(OutputLog)

    @property
    def search_input(self) -> Input:
        """The search box (hidden until ``/``), mounted the first time it is asked for."""
        existing = self._existing_search_input()
        if existing is not None:
            return existing
        search = Input(placeholder="search this output (plain text) · enter: go · escape: close")
        self.mount(search)
        return search

    def _existing_search_input(self) -> Input | None:
        found = self.query_children(Input)
        return found.first() if found else None

    @property
    def lines(self) -> Sequence[str]:
        return self.output_log.lines

    @property
    def following(self) -> bool:
        return self.output_log.following

    # ------------------------------------------------------------ content from the bridge

    def show_host(self, host: str | None, bridge: EventBridge, state: HostState | None) -> None:
        """Switch to ``host``: its kept lines, following the end."""
        if host != self.host:
            self.saved_to = None
        self.host, self.state = host, state
        self._bridge = bridge
        lines = bridge.lines(host) if host is not None else []
        self._seen = bridge.line_count(host) if host is not None else 0
        log = self.output_log
        # Line i of the log is the host's line (seen - kept + i) as the bridge counts.
        log.arrival = (
            None
            if host is None
            else lambda index: bridge.arrived(host, self._seen - len(log.lines) + index)
        )
        log.replace(lines)
        self.update_title()
        self.update_status()

    def sync(self, bridge: EventBridge, state: HostState | None = None) -> None:
        """Append what the bridge received for the host since the last call."""
        if self.host is None:
            return
        if state is not None and state != self.state:
            self.state = state
            self.update_title()
        if bridge.line_count(self.host) == self._seen:
            return
        lines = bridge.lines_since(self.host, self._seen)
        self._seen = bridge.line_count(self.host)
        # The bridge already stripped control sequences; stripping again is cheap and
        # keeps the pane safe if it is ever fed from elsewhere.
        self.output_log.append([strip_control(line) for line in lines])
        self.update_status()

    # ------------------------------------------------------------ title and status

    def update_title(self) -> None:
        if self.host is None:
            title = "output"
        elif self.state is None:
            title = f"output: {self.host}"
        else:
            title = f"{self.host} · {self.state.value}"
        self.title_text = title = strip_control(title)
        # Content(...) is plain text: a host named "[red]x" is shown as written.
        self.output_log.border_title = Content(title)

    def status_text(self) -> str:
        log = self.output_log
        parts: list[str] = []
        if self.search_term:
            matches = log.match_lines()
            if log.current_match is not None and log.current_match in matches:
                position = matches.index(log.current_match) + 1
                parts.append(f"“{self.search_term}” {position}/{len(matches)}")
            else:
                parts.append(f"“{self.search_term}” {len(matches)} lines")
        if log.wrap:
            parts.append("wrap")
        if self.saved_to is not None:
            parts.append(f"saved to {self.saved_to}")
        if log.following:
            parts.append("following")
        else:
            new = f"{log.unseen:,} new line{'s' if log.unseen != 1 else ''}"
            parts.append(f"paused · {new} · f: follow")
        return " · ".join(parts)

    def update_status(self) -> None:
        log = self.output_log
        log.border_subtitle = Content(self.status_text())
        log.set_class(not log.following, "-paused")

    # ------------------------------------------------------------ actions

    def action_toggle_follow(self) -> None:
        self.output_log.set_following(not self.output_log.following)
        self.update_status()

    def action_toggle_wrap(self) -> None:
        self.output_log.set_mode(wrap=not self.output_log.wrap)
        self.update_status()

    def action_toggle_times(self) -> None:
        self.output_log.set_mode(show_times=not self.output_log.show_times)
        self.update_status()

    # ------------------------------------------------------------ saving

    def default_save_path(self) -> Path:
        """./patchtui-<host>-<run id, or the time now>.log, in the directory patchtui runs in."""
        assert self.host is not None
        bridge = self._bridge
        run = bridge.run if bridge is not None else None
        if run is not None and self.host in run.states:
            stamp = run.run_id  # the output is mostly that run's: name the file after it
        else:
            now = bridge.wall_clock() if bridge is not None else time.time()
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        return Path(".") / f"patchtui-{safe_name(self.host)}-{safe_name(stamp)}.log"

    def saved_text(self) -> str:
        """The host's kept output as plain text (control sequences were stripped when
        the lines arrived), each line with its time when times are shown."""
        bridge, host = self._bridge, self.host
        if bridge is None or host is None:
            return ""
        lines = bridge.lines(host)
        first = bridge.line_count(host) - len(lines)
        if not self.output_log.show_times:
            return "".join(f"{line}\n" for line in lines)
        return "".join(
            f"{time_prefix(bridge.arrived(host, first + index))}{line}\n"
            for index, line in enumerate(lines)
        )

    def action_save(self) -> None:
        host = self.host
        if host is None:
            self.notify("No host is shown: nothing to save.", severity="warning")
            return

        def chosen(path: Path | None) -> None:
            if path is not None and self.host == host:
                self.save_to(path)

        self.app.push_screen(SaveOutputScreen(host, self.default_save_path()), chosen)

    def save_to(self, path: Path, *, replace: bool = False) -> Path | None:
        """Write the output to ``path``; asks before replacing a file. Where it was saved."""
        host = self.host
        try:
            saved = save_text(path, self.saved_text(), replace=replace)
        except SaveExists as exists:
            if not exists.replaceable:
                self.notify(
                    f"Not saved: {exists.path} exists and is not a regular file"
                    " (a link, directory or device is never written through).",
                    severity="error",
                    markup=False,
                )
                return None

            def answered(yes: bool | None) -> None:
                if yes and self.host == host:
                    self.save_to(path, replace=True)

            self.app.push_screen(
                ConfirmScreen(
                    "Replace the file?",
                    [f"{exists.path} exists.", f"Replace it with the output of {host}?"],
                    yes_label="Replace",
                ),
                answered,
            )
            return None
        except PatchtuiError as error:
            self.notify(f"Not saved: {error}", severity="error", markup=False)
            return None
        self.saved_to = saved
        self.update_status()
        self.notify(f"Saved the output of {host} to {saved}", markup=False)
        return saved

    def action_search(self) -> None:
        search = self.search_input
        search.add_class("-shown")
        search.focus()

    def action_next_match(self) -> None:
        self._jump(forward=True)

    def action_previous_match(self) -> None:
        self._jump(forward=False)

    def _jump(self, *, forward: bool) -> None:
        if not self.search_term:
            self.action_search()
            return
        if self.output_log.jump(forward=forward) is None:
            self.notify(f"Not found: {self.search_term}", severity="warning", markup=False)
        self.update_status()

    def action_clear_search(self) -> None:
        self.reset_search()
        self.output_log.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            # Without a search, escape belongs to the screen (back, clear filter).
            search = self._existing_search_input()
            return bool(self.search_term) or (search is not None and search.has_class("-shown"))
        if action in ("next_match", "previous_match"):
            return True if self.search_term else None
        return True

    def reset_search(self) -> None:
        """No search and no search box (escape, or the pane is about to show another host)."""
        if self.search_term:
            self.search("")
        search = self._existing_search_input()
        if search is not None:
            search.value = ""
            search.remove_class("-shown")

    def search(self, term: str) -> None:
        """Highlight ``term`` (plain text, any case) in the output; "" clears it."""
        self.search_term = term
        self.output_log.set_search(term)
        self.update_status()

    @on(Input.Changed)
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search(event.value)

    @on(Input.Submitted)
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search(event.value)
        # The term stays in the status line; / brings the box back to change it.
        self.search_input.remove_class("-shown")
        self.output_log.focus()
        if event.value:
            self._jump(forward=True)


class HostsOutputPane(OutputPane):
    """The output pane under the hosts table: its search is ctrl+f only, because on
    the hosts screen ``/`` always filters the hosts, wherever the focus is (a ``/``
    that searched the pane once led to a patch of every host instead of a filtered few)."""

    inherit_bindings = False
    BINDINGS = pane_bindings(search_keys="ctrl+f")


__all__ = ["HostsOutputPane", "OutputLog", "OutputPane", "SearchHighlighter", "search_pattern"]
