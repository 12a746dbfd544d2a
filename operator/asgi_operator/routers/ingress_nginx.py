"""ingress-nginx: the Ingress `<name>` sends to `<name>-stable`, and a second Ingress for the same host and path,
marked as canary with `canary-weight`, sends to `<name>-canary` once a canary exists."""

from __future__ import annotations

from typing import Final

from ..api.kinds import INGRESS
from ..api.models import AsgiServiceSpec, Router
from ..render.cors import nginx_annotations as nginx_cors
from ..render.meta import Child, Manifest, Owner, canary_name, owner_name, stable_name
from ..render.network import ingress
from .base import OwnedObjectsOnly

CANARY: Final = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT: Final = "nginx.ingress.kubernetes.io/canary-weight"
SSL_REDIRECT: Final = "nginx.ingress.kubernetes.io/ssl-redirect"
# cert-manager makes one Certificate per Ingress carrying these: on the canary Ingress too, it would refuse the
# second one as a "non-owned certificate" (and a canary Ingress ignores all but its canary annotations anyway)
CERT_MANAGER_PREFIX: Final = "cert-manager.io/"


def copied_to_canary(key: str) -> bool:
    return not key.startswith(CERT_MANAGER_PREFIX)


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
        # ssl-redirect is on by default once spec.tls is set; HSTS is the controller's ConfigMap (hsts, default on)
        redirect_off = {SSL_REDIRECT: "false"} if expose.tls is not None and not expose.tls.redirect else {}
        # on the main Ingress only: a canary Ingress ignores them (render.network.ingress adds the rate limit's)
        main = {**redirect_off, **nginx_cors(expose)}
        out = [ingress(owner, expose, expose.ingress, backend=stable_name(owner), extra_annotations=main)]
        if canary:
            out.append(
                ingress(
                    owner,
                    expose,
                    expose.ingress,
                    backend=canary_name(owner),
                    name=canary_name(owner),
                    extra_annotations={CANARY: "true", CANARY_WEIGHT: str(weight)},
                    copies_annotation=copied_to_canary,
                )
            )
        return out
