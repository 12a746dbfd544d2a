"""Kubernetes Events on an AsgiService: what a person would want to know, exactly once.

Rollout events get deterministic names (`<asgiservice>.<first 8 characters of its uid>.<sequence number>`, see
`reconcile.announce`), so posting one again after a restart is answered 409 AlreadyExists and ignored: a step
is never repeated in `kubectl describe`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from ..api import keys
from ..api.kinds import EVENT
from .api import ApiError, Body, KubeApi

COMPONENT: Final = "asgi-operator"


@dataclass(frozen=True)
class EventSpec:
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"
    name: str | None = None  # deterministic name for exactly-once events


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post_event(api: KubeApi, owner: Body, event: EventSpec) -> None:
    meta = owner["metadata"]
    now = _now()
    body: Body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": keys.API_VERSION,
            "kind": keys.KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "reason": event.reason,
        "message": event.message[:1024],
        "type": event.type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": os.environ.get("POD_NAME") or socket.gethostname(),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    if event.name:
        body["metadata"]["name"] = event.name
    else:
        body["metadata"]["generateName"] = f"{meta['name']}."
    try:
        api.create(EVENT, meta["namespace"], body)
    except ApiError as e:
        # already posted (before a restart): exactly once. Only AlreadyExists says so: any other 409 (Conflict) is
        # a failure like a 500, and the event must be posted again, not taken as posted
        if not (e.already_exists and event.name):
            raise
