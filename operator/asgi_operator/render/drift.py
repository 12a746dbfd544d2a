"""Does a live object still hold everything the operator wants in it?

`holds(desired, live)` is true when every field of the desired manifest is present in the live object with
the same value. Fields others added (defaults, annotations of other tools, status) do not matter. Together
with the config-hash annotation (which changes whenever the desired manifest changes) this decides whether
a child needs a write at all: an unchanged, undrifted child costs no request.
"""

from __future__ import annotations

from typing import Any, Final

from ..api.quantities import quantity

# Fields whose values the API server normalises as quantities ("0.5" is stored as "500m"). Anywhere else a
# string is a string: "1.10" and "1.1" are different env values.
QUANTITY_FIELDS: Final = frozenset({"requests", "limits", "sizeLimit", "divisor"})


def _same_scalar(want: Any, have: Any, as_quantity: bool) -> bool:
    if want == have and type(want) is type(have):
        return True
    if as_quantity and isinstance(want, (int, str)) and isinstance(have, (int, str)) and not isinstance(want, bool):
        a, b = quantity(want), quantity(have)
        return a is not None and a == b
    return False


def _empty(value: Any) -> bool:
    """Go's omitempty: the API server drops these, so a missing field holds them."""
    return value is None or value in ("", [], {})


def keyed(items: list[Any]) -> bool:
    """Is this list a list-map keyed by `name` (containers, env, ports, volumes)?"""
    # names must be unique to be keys: volumeMounts name a volume, and one volume may be mounted twice (subPath)
    return (
        bool(items)
        and all(isinstance(i, dict) and "name" in i for i in items)
        and len({i["name"] for i in items}) == len(items)
    )


def holds(desired: Any, live: Any, *, as_quantity: bool = False) -> bool:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(
            (holds(v, live[k], as_quantity=as_quantity or k in QUANTITY_FIELDS) if k in live else _empty(v))
            for k, v in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(live, list):
            return False
        if keyed(desired) and keyed(live):
            # list-maps keyed by name (containers, env, ports, volumes): others may add entries
            by_name = {item["name"]: item for item in live}
            return all(item["name"] in by_name and holds(item, by_name[item["name"]]) for item in desired)
        return len(desired) == len(live) and all(
            holds(d, h, as_quantity=as_quantity) for d, h in zip(desired, live, strict=True)
        )
    return _same_scalar(desired, live, as_quantity)
