"""Does a live object still hold everything the operator wants in it?

`holds(desired, live)` is true when every field of the desired manifest is present in the live object with
the same value. Fields others added (defaults, annotations of other tools, status) do not matter. Together
with the config-hash annotation (which changes whenever the desired manifest changes) this decides whether
a child needs a write at all: an unchanged, undrifted child costs no request.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

_QUANTITY: Final = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX: Final = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(value: object) -> Decimal | None:
    """A Kubernetes quantity ('500m', '0.5', '1Gi', 2) as a number, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value)
    if not m:
        return None
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2)
    if suffix and suffix[0] in "eE":
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def _same_scalar(want: Any, have: Any) -> bool:
    if want == have and type(want) is type(have):
        return True
    if isinstance(want, (int, str)) and isinstance(have, (int, str)) and not isinstance(want, bool):
        a, b = quantity(want), quantity(have)
        return a is not None and a == b
    return False


def _keyed(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def holds(desired: Any, live: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and holds(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list):
            return False
        if _keyed(desired) and _keyed(live):
            # list-maps keyed by name (containers, env, ports, volumes): others may add entries
            by_name = {item["name"]: item for item in live}
            return all(item["name"] in by_name and holds(item, by_name[item["name"]]) for item in desired)
        return len(desired) == len(live) and all(holds(d, h) for d, h in zip(desired, live, strict=True))
    return _same_scalar(desired, live)
