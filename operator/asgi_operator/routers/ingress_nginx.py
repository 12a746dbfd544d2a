"""ingress-nginx: a second Ingress for the same host and path, marked as canary, with `canary-weight`."""

from __future__ import annotations

from typing import Any, Final

from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Manifest, Owner, canary_name
from ..render.network import ingress

CANARY: Final = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT: Final = "nginx.ingress.kubernetes.io/canary-weight"


class IngressNginx:
    kind = Router.INGRESS_NGINX
    approximate = False

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        expose = spec.expose
        if expose is None or expose.ingress is None or not canary:
            return []
        return [
            ingress(
                owner,
                expose,
                expose.ingress,
                backend=canary_name(owner),
                name=canary_name(owner),
                extra_annotations={CANARY: "true", CANARY_WEIGHT: str(weight)},
            )
        ]

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> list[dict[str, Any]] | None:
        return None
