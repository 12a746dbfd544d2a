"""Where `kubectl asgi` writes: rich on a terminal, plain text everywhere else.

Plain (not a single escape code) when stdout is not a terminal, with `--no-color`, or with NO_COLOR set, even if
FORCE_COLOR or TERM say otherwise: a CI log gets text. A watch redraws in place only on a terminal; elsewhere
it prints one line per change. Text from the cluster is never read as rich markup.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import IO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from .view import columns

_STYLES = (
    (r"\b(RolledBack|Failed|Error|Fail|Stalled)\b", "bold red"),
    (r"\b(Ready|Promoted|Pass|Idle)\b", "green"),
    (r"\b(Canary|Progressing|Promoting|Deploying|Paused|paused|NoData)\b", "yellow"),
)


class Output:
    def __init__(self, *, no_color: bool = False, stream: IO[str] | None = None) -> None:
        stream = stream or sys.stdout
        self.terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.plain = no_color or not self.terminal or "NO_COLOR" in os.environ
        self.console = Console(
            file=stream,
            color_system=None if self.plain else "auto",
            force_terminal=self.terminal,
            no_color=self.plain,
            highlight=False,
            markup=False,
            emoji=False,
            soft_wrap=True,
            width=None if self.terminal else 1_000_000,  # a log line is never wrapped
        )

    def styled(self, text: str, style: str | None = None) -> Text:
        out = Text(text, style=style or "")
        if not self.plain:
            for pattern, colour in _STYLES:
                out.highlight_regex(pattern, colour)
        return out

    def print(self, text: str = "", style: str | None = None) -> None:
        self.console.print(self.styled(text, style))

    def header(self, text: str) -> None:
        self.console.print(Text(text, style="" if self.plain else "bold"))

    def table(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        """Columns as kubectl prints them, the header in bold."""
        first, *rest = columns([header, *rows])
        self.header(first)
        for line in rest:
            self.print(line)

    def live(self, view: Callable[[], RenderableType]) -> Live:
        """A view redrawn in place once a second (terminals only: redraws the latest object, so countdowns
        move), left on screen when it ends."""
        return Live(get_renderable=view, console=self.console, refresh_per_second=1, transient=False)
