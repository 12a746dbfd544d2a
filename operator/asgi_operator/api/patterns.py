"""The regex vocabulary of the contract (names, hosts, label keys, ...), the Quantity type and the IP/CIDR check.

Every pattern is written once and used both in the CRD (an OpenAPI `pattern` or a CEL `matches()`) and by the
models in Python.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Final

from pydantic import AfterValidator, Field

from . import keys
from .quantities import is_quantity

_DOTTED_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
APP_PATTERN: Final = f"^{_DOTTED_NAME}:{_DOTTED_NAME}$"
DNS_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
HOSTNAME_PATTERN: Final = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_SUBDOMAIN: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS_SUBDOMAIN_PATTERN: Final = f"^{_SUBDOMAIN}$"
# a label key or annotation key: an optional DNS-subdomain prefix and a name of at most 63 characters
QUALIFIED_NAME_PATTERN: Final = f"^({_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
RESOURCE_NAME_PATTERN: Final = (
    r"^(cpu|memory|ephemeral-storage|hugepages-[A-Za-z0-9]+|"
    r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$"
)
ENV_NAME_PATTERN: Final = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
PROM_LABEL_PATTERN: Final = r"^[a-zA-Z_][a-zA-Z0-9_]*$"

# metadata.name: the operator names Services <name>-stable and <name>-canary, and a Service name is a DNS
# label (at most 63 characters), so the longer suffix comes off the limit.
NAME_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_MAX_LENGTH: Final = 63
_TRACK_SUFFIXES: Final = (f"-{keys.TRACK_STABLE}", f"-{keys.TRACK_CANARY}")
MAX_NAME_LENGTH: Final = DNS_LABEL_MAX_LENGTH - max(len(suffix) for suffix in _TRACK_SUFFIXES)
NAME_MESSAGE: Final = (
    "metadata.name must be a DNS label (lowercase letters, digits, '-') of at most "
    f"{MAX_NAME_LENGTH} characters: "
    f"the operator names Services <name>{_TRACK_SUFFIXES[0]} and <name>{_TRACK_SUFFIXES[1]}"
)

# -------------------------------------------------------------------------------------------- quantity
QUANTITY_MESSAGE: Final = "must be a non-negative quantity such as 250m, 0.5, 512Mi or 2Gi"


def _check_quantity(value: int | str) -> int | str:
    # the same test as the CEL rule below: a quantity, and not a negative one
    bad = value < 0 if isinstance(value, int) else (not is_quantity(value) or value.startswith("-"))
    if bad:
        raise ValueError(f"{value!r} {QUANTITY_MESSAGE}")
    return value


Quantity = Annotated[
    int | str,
    AfterValidator(_check_quantity),
    Field(
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "maxLength": 64,
            "x-kubernetes-validations": [
                {
                    "rule": "type(self) == int ? self >= 0 : (isQuantity(self) && !string(self).startsWith('-'))",
                    "message": QUANTITY_MESSAGE,
                }
            ],
        }
    ),
]


# -------------------------------------------------------------------------------------------- addresses
def is_ip_or_cidr(value: str) -> bool:
    """An IP address, a CIDR or '*', as Kubernetes' CEL isIP()/isCIDR() take them."""
    if value == "*":
        return True
    try:
        address = ipaddress.ip_interface(value).ip if "/" in value else ipaddress.ip_address(value)
    except ValueError:
        return False
    # Kubernetes' isIP/isCIDR (like Go's netip) refuse IPv4-mapped IPv6 addresses
    return not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None)
