"""What `kubectl asgi status -w/--timeout` prints while it waits, and the exit code it ends with.

On a terminal the view is redrawn in place; anywhere else (a CI log) the status is printed once, then one line
per change, then the outcome. The wait ends as soon as `outcome.judge` says the rollout waited for ended or is
paused (nothing moves until a person resumes it), else at the deadline, with Exit.TIMEOUT.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.text import Text

from .errors import error
from .outcome import Exit, Judgement, judge
from .output import Output
from .view import progress_line, render_status


def wait(out: Output, versions: Iterator[dict[str, Any]], who: str, timeout: float | None) -> int:
    latest: dict[str, Any] = {}
    judged: Judgement | None = None
    if out.terminal:

        def view() -> Group:
            if not latest:  # drawn once before the first read returns
                return Group(out.styled(f"reading asgiservice {who} ...", "dim"))
            return Group(out.styled(render_status(latest)), Text(""), out.styled(f"... {judge(latest).why}", "dim"))

        with out.live(view) as live:
            for obj in versions:
                latest, judged = obj, judge(obj)
                live.refresh()
                if judged.done:
                    break
    else:
        printed = ""
        for obj in versions:
            if not latest:
                out.print(render_status(obj))
            latest, judged = obj, judge(obj)
            line = f"{progress_line(obj)}  ({judged.why})"
            if line != printed:
                out.print(f"{datetime.now(UTC):%H:%M:%S} {line}")
                printed = line
            if judged.done:
                break
    if judged is not None and judged.done:
        style = {Exit.OK: "bold", Exit.PAUSED: "bold yellow"}.get(judged.code, "bold red")
        out.print(f"asgiservice {who}: {judged.why}", style)
        return judged.code
    last = judged.why if judged is not None else "nothing read"
    error(f"timed out after {_seconds(timeout)} waiting for asgiservice {who}: {last}")
    return Exit.TIMEOUT


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    whole = math.ceil(value)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
