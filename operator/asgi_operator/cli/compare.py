"""`kubectl asgi diff`: the rendered objects against the live ones, as a unified diff. Pure.

Only what the operator owns is compared: the live object is projected onto the fields of the rendered
manifest, by the same rules the operator uses to decide that a child needs no write (render.drift.holds):
fields others added (defaults, status, other managers' labels) are left out, list entries are matched by
name where they have one, and a quantity the API server normalised ("0.5" stored as "500m") counts as the
value written. So an object the operator would leave alone shows no difference.
"""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from ..render.drift import QUANTITY_FIELDS, holds, keyed
from ..render.meta import Manifest

_MISSING = object()


def project(desired: Any, live: Any, *, as_quantity: bool = False) -> Any:
    """The part of `live` that corresponds to `desired` (the desired value itself wherever `live` holds it)."""
    if holds(desired, live, as_quantity=as_quantity):
        return desired
    if isinstance(desired, dict) and isinstance(live, dict):
        out: dict[str, Any] = {}
        for key, value in desired.items():
            if key in live:
                out[key] = project(value, live[key], as_quantity=as_quantity or key in QUANTITY_FIELDS)
        return out
    if isinstance(desired, list) and isinstance(live, list):
        if keyed(desired) and keyed(live):
            by_name = {item["name"]: item for item in live}
            wanted = [project(item, by_name[item["name"]]) for item in desired if item["name"] in by_name]
            names = {item["name"] for item in desired}
            return wanted + [item for item in live if item["name"] not in names]  # entries we would not write
        if len(desired) == len(live):
            return [project(d, h, as_quantity=as_quantity) for d, h in zip(desired, live, strict=True)]
    return live


def _yaml(obj: Any) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=1_000_000).splitlines(keepends=True)


def label(manifest: Manifest) -> str:
    meta = manifest.get("metadata") or {}
    return f"{manifest.get('apiVersion')}.{manifest.get('kind')}.{meta.get('namespace', '')}.{meta.get('name')}"


def unified(desired: Manifest | None, live: Manifest | None, name: str) -> str:
    """The unified diff of one object: live (projected) -> rendered; '' when they agree."""
    before = None if live is None else (project(desired, live) if desired is not None else live)
    lines = difflib.unified_diff(_yaml(before), _yaml(desired), f"live/{name}", f"rendered/{name}", n=3)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
