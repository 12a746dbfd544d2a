"""No router: the Service `<name>` selects stable and canary pods alike, so the canary's share of traffic
is roughly its share of the ready pods. Status says that the split is approximate."""

from __future__ import annotations

from typing import Any

from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Manifest, Owner


class ReplicaRatio:
    kind = Router.REPLICAS
    approximate = True

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        return []

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> list[dict[str, Any]] | None:
        return None
