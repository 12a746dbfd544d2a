"""Reading the body of a Prometheus instant-query answer, strictly. Pure: bytes in, series out.

An answer is read only when it says exactly one thing: a vector (the result type an instant query of the
analysis asks for), each series a set of string labels with one sample, no two series with the same labels,
no JSON object with a key twice (a JSON reader keeps one of the two silently). Anything else raises:

- `NotPrometheus`: the body is not Prometheus' JSON at all (a proxy's login page, half a body): no answer;
- `Unreadable`: Prometheus' JSON, with something the operator cannot read unambiguously; the message names what
  came back ("a scalar, expected a vector").

How many series each check may have is the analysis' business (rollout.analysis), not this module's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

# The largest answer read. An analysis asks for a handful of series (the combined query of rollout.queries: at
# most 6, each with its asgi_check label and at most a route label; a custom query may keep a few more labels):
# well under 10 KiB even with long route names, plus Prometheus' warnings. 256 KiB is more than 25 times that,
# and still lets an answer of a few thousand series be read far enough to say how many came back for each
# check; beyond it the answer is refused unread, from its Content-Length before a byte of it is read (else once
# that many bytes arrived), so a query that returns a million series costs neither memory nor parsing time.
MAX_ANSWER_BYTES: Final = 256 * 1024

_LABEL_SHOWN: Final = 60  # characters of a label value quoted in a message
_KINDS: Final = {"scalar": "a scalar", "matrix": "a matrix (range vectors)", "string": "a string"}


class NotPrometheus(ValueError):
    """The body is not Prometheus' JSON."""


class Unreadable(ValueError):
    """Prometheus' JSON, but not one unambiguous vector; the message names what came back."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float  # NaN and +/-Inf as Prometheus returned them


def size(n: int) -> str:
    """A byte count for a message: "900 bytes", "12 KiB", "1.2 MiB"."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def too_large(n: int, exact: bool) -> str:
    """Why an answer of `n` bytes (at least `n` when not `exact`) is refused unread."""
    what = f"an answer of {size(n)}, more than" if exact else "an answer of more than"
    return f"{what} the {size(MAX_ANSWER_BYTES)} an analysis reads (it asks for a handful of series): refused unread"


def count(n: int) -> str:
    return f"{n:,}"


def quoted(value: str) -> str:
    """A label value for a message, cut short."""
    shown = value if len(value) <= _LABEL_SHOWN else value[: _LABEL_SHOWN - 3] + "..."
    return json.dumps(shown)


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def prometheus_error(body: bytes) -> str | None:
    """Prometheus' own "errorType: error" in an error answer's body; None when the body has none."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
        return None
    return f"{answer.get('errorType') or 'error'}: {answer['error']}"


def _series(item: Any) -> Series:
    if not isinstance(item, dict):
        raise Unreadable(f"a vector holding {type(item).__name__}s, expected series")
    labels = item.get("metric", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise Unreadable("a series whose labels are not strings")
    value = item.get("value")
    if "histogram" in item:
        raise Unreadable("a series holding a native histogram, expected a number")
    if not isinstance(value, list) or len(value) != 2:
        raise Unreadable("a series without a sample (timestamp and value)")
    return Series(labels, _number(value[1]))


def read_vector(body: bytes) -> list[Series]:
    """Every series of the vector in an instant query's answer, or NotPrometheus / Unreadable."""
    try:
        answer = json.loads(body, object_pairs_hook=_object)
    except _Duplicate as e:
        raise Unreadable(f"a JSON object with the key {quoted(e.key)} twice (a series with a label twice?)") from None
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise NotPrometheus(f"an answer that is not JSON ({str(e)[:80]})") from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise NotPrometheus("an answer that is not Prometheus' (no status)")
    if answer["status"] != "success":
        error = answer.get("error")
        shown = f": {answer.get('errorType') or 'error'}: {error}"[:200] if isinstance(error, str) else ""
        raise NotPrometheus(f"an answer with status {quoted(str(answer['status']))}{shown}")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise NotPrometheus("an answer that is not Prometheus' (no data)")
    kind = data.get("resultType")
    if kind != "vector":
        shown = _KINDS.get(kind, f"a result of type {quoted(str(kind))}") if kind is not None else "no result type"
        raise Unreadable(f"{shown}, expected a vector")
    result = data.get("result")
    if not isinstance(result, list):
        raise Unreadable("a vector whose result is not a list")
    out = [_series(item) for item in result]
    _distinct(out)
    return out


def _distinct(series: list[Series]) -> None:
    """No two series with the same labels: a vector never holds two (Prometheus refuses to compute one), so
    a second one is something else answering, and neither can be trusted."""
    seen: set[frozenset[tuple[str, str]]] = set()
    again = 0
    first: Series | None = None
    for s in series:
        key = frozenset(s.labels.items())
        if key in seen:
            again += 1
            first = first or s
        seen.add(key)
    if first is not None:
        labels = ", ".join(f"{k}={quoted(v)}" for k, v in sorted(first.labels.items())[:4])
        raise Unreadable(f"{count(again)} series with the same labels as another, e.g. {{{labels}}}")
