"""Kubernetes quantities ("500m", "0.5", "1Gi", 2) as numbers, for validation and for drift checks."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

# The quantity grammar of Kubernetes (k8s.io/apimachinery/pkg/api/resource): an optionally signed decimal number
# (1, 1.5, 1., .5), then a binary-SI suffix, a decimal-SI suffix or a decimal exponent. The one pattern for
# quantities: `Quantity` in the models (which also refuses a negative one) and `quantity()` below use it.
# Group 1 is the signed number, group 2 the suffix.
QUANTITY_PATTERN: Final = (
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_QUANTITY: Final = re.compile(QUANTITY_PATTERN)
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


def is_quantity(text: str) -> bool:
    """Is `text` a Kubernetes quantity (CEL's isQuantity())? Negative ones included."""
    return _QUANTITY.fullmatch(text) is not None


def quantity(value: object) -> Decimal | None:
    """A Kubernetes quantity ('500m', '0.5', '1Gi', 2) as a number, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        return None
    m = _QUANTITY.fullmatch(value)
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
