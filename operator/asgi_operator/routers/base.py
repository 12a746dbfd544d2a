"""The interface every traffic router implements."""

from __future__ import annotations

from typing import Any, Protocol

from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Manifest, Owner


class TrafficRouter(Protocol):
    kind: Router
    approximate: bool  # True: the split is only approximated (by pod counts)

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        """Objects the operator owns that put `weight` percent of traffic on the canary. `canary` says
        whether a canary Deployment exists (some objects only make sense with one)."""
        ...

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> list[dict[str, Any]] | None:
        """For a traffic object the user owns (an existing HTTPRoute): the JSON patch that sets only the
        weights, or None when nothing needs to change. Raises RouterError when it cannot be done."""
        ...


class RouterError(Exception):
    """The traffic object cannot carry the split; the message says what to fix."""
