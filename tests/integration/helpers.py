"""Small helpers for integration tests: read objects, wait on conditions with deadlines, count writes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from lab.cluster import Cluster, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPERATOR_USER = "system:serviceaccount:asgi-operator-system:asgi-operator"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def get(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def must_get(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any]:
    obj = get(cluster, kind, name, namespace)
    assert obj is not None, f"{kind}/{name} not found in {namespace}"
    return obj


def example(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((EXAMPLES / name).read_text()))


def apply(cluster: Cluster, namespace: str, body: dict[str, Any]) -> None:
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(body))


def replace_spec(cluster: Cluster, namespace: str, body: dict[str, Any]) -> None:
    """`kubectl replace` (fields left out are removed, unlike apply), at the object's current version."""
    live = must_get(cluster, body["kind"].lower(), body["metadata"]["name"], namespace)
    metadata = {**body["metadata"], "resourceVersion": live["metadata"]["resourceVersion"]}
    cluster.kubectl("replace", "-n", namespace, "-f", "-", stdin=json.dumps({**body, "metadata": metadata}))


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return {}


def wait_ready(cluster: Cluster, namespace: str, name: str, timeout: float = 60) -> dict[str, Any]:
    """Ready=True for the current generation (what `kubectl wait --for=condition=Ready` waits for)."""

    def ready() -> dict[str, Any] | None:
        obj = get(cluster, "asgiservice", name, namespace)
        c = condition(obj, "Ready")
        if (
            obj
            and c.get("status") == "True"
            and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
        ):
            return obj
        return None

    return wait_for(f"asgiservice/{name} Ready", ready, timeout)  # type: ignore[return-value]


def wait_until(what: str, fn: Callable[[], Any], timeout: float = 60) -> Any:
    return wait_for(what, fn, timeout)


def operator_writes(cluster: Cluster, since: float, user: str = OPERATOR_USER) -> list[str]:
    """Write requests the operator's identity made since `since` (epoch seconds), from the audit log."""
    events = cluster.audit_events()
    assert events is not None, "this cluster has no readable audit log"
    out = []
    for e in events:
        if e.get("stage") != "ResponseComplete" or e.get("verb") not in WRITE_VERBS:
            continue
        if (e.get("user") or {}).get("username") != user:  # type: ignore[union-attr]
            continue
        stamp = str(e.get("requestReceivedTimestamp", ""))
        if _epoch(stamp) < since:
            continue
        ref = e.get("objectRef") or {}
        out.append(f"{e['verb']} {ref.get('resource')}/{ref.get('subresource', '') or ''}{ref.get('name', '')}")  # type: ignore[union-attr]
    return out


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else 0.0


def events_for(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.name={name},involvedObject.kind=AsgiService",
        "-o",
        "json",
    ).stdout
    items = json.loads(out)["items"]
    return sorted(items, key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))


def now() -> float:
    return time.time()
