"""Durations as Kubernetes users write them (`500ms`, `30s`, `5m`, `1h30m`), the subset of Go's syntax
that the API server's CEL `duration()` also parses, so the same string validates in both places."""

import re
from datetime import timedelta
from typing import Annotated, Final

from pydantic import AfterValidator, Field

DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
MAX_HOURS: Final = 168
DURATION_MESSAGE: Final = f"must be a duration such as 500ms, 30s, 5m or 1h30m, at most {MAX_HOURS}h"
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE: Final = re.compile(DURATION_PATTERN)


def parse_duration(text: str) -> timedelta:
    """`1m30s` -> timedelta(seconds=90). Raises ValueError with the user's text in the message."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} {DURATION_MESSAGE}")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))


def _check(text: str) -> str:
    if parse_duration(text) > timedelta(hours=MAX_HOURS):
        raise ValueError(f"{text!r} {DURATION_MESSAGE}")
    return text


def seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


def format_seconds(value: float) -> str:
    """The shortest duration string for a number of seconds (used in messages and rendered objects)."""
    if value < 1:
        return f"{round(value * 1000)}ms"
    if value == int(value):
        whole = int(value)
        if whole % 3600 == 0:
            return f"{whole // 3600}h"
        if whole % 60 == 0 and whole >= 60:
            return f"{whole // 60}m"
        return f"{whole}s"
    return f"{value:g}s"


def canonical(value: str | float) -> str:
    """A duration in the one form every consumer parses: Prometheus' scrape intervals and PromQL ranges,
    Go's time.ParseDuration, and our own pattern. Units descend, each once, whole numbers only:
    `1.5m` -> `1m30s`, `90s` -> `1m30s`, `0.25s` -> `250ms`, `2h` -> `2h`. Rounded to the millisecond
    (at least 1ms for a positive duration)."""
    total = seconds(value) if isinstance(value, str) else float(value)
    ms = round(total * 1000)
    if ms == 0 and total > 0:
        ms = 1
    if ms <= 0:
        return "0s"
    out = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


Duration = Annotated[
    str,
    AfterValidator(_check),
    Field(
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches(r'{DURATION_PATTERN}') && duration(self) <= duration('{MAX_HOURS}h')",
                    "message": DURATION_MESSAGE,
                }
            ]
        },
    ),
]
