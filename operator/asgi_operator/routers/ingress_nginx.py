"""ingress-nginx: the Ingress `<name>` sends to `<name>-stable`, and a second Ingress for the same host and path,
marked as canary with `canary-weight`, sends to `<name>-canary` once a canary exists."""

from __future__ import annotations

from typing import Final

from ..api.kinds import INGRESS
from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Child, Manifest, Owner, canary_name, owner_name, stable_name
from ..render.network import ingress
from .base import OwnedObjectsOnly

CANARY: Final = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT: Final = "nginx.ingress.kubernetes.io/canary-weight"


class IngressNginx(OwnedObjectsOnly):
    name = Router.INGRESS_NGINX
    owns = (Child(INGRESS, owner_name), Child(INGRESS, canary_name))

    def applies(self, spec: AsgiServiceSpec, *, chosen: bool) -> bool:
        ingress_spec = spec.expose.ingress if spec.expose is not None else None
        return ingress_spec is not None and (chosen or "nginx" in ingress_spec.class_name)

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        expose = spec.expose
        if expose is None or expose.ingress is None:
            return []
        out = [ingress(owner, expose, expose.ingress, backend=stable_name(owner))]
        if canary:
            out.append(
                ingress(
                    owner,
                    expose,
                    expose.ingress,
                    backend=canary_name(owner),
                    name=canary_name(owner),
                    extra_annotations={CANARY: "true", CANARY_WEIGHT: str(weight)},
                )
            )
        return out
