"""The workload an AsgiService owns whatever its exposure: the Deployments, the Services, the HPA, the PDB and
the PodMonitor. (Exposure and traffic objects come from the traffic router, see `routers/`; the whole desired
state is assembled in `reconcile.desired`.)

Inputs are the current spec, the spec whose pod template the stable track runs (the same spec, except while a
canary is in flight), and the canary's size. The output is deterministic, so applying it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..api import keys
from ..api.kinds import CERTIFICATE, CONFIG_MAP, DEPLOYMENT, HPA, JOB, PDB, POD_MONITOR, SERVICE
from ..api.models import AsgiServiceSpec
from .edge import config_map, config_map_name
from .meta import Child, Manifest, Owner, canary_name, owner_name, stable_name
from .monitoring import pod_monitor, wants_pod_monitor
from .network import services
from .scaling import fixed_replicas, hpa, pdb
from .tls import certificate, certificate_child_name, wants_certificate
from .workload import deployment, pod_template

# Every workload object an AsgiService may own (the traffic routers declare theirs).
WORKLOAD: Final = (
    Child(DEPLOYMENT, owner_name, optional=False),
    Child(DEPLOYMENT, canary_name, optional=False),  # from the first canary on, with 0 pods between rollouts
    Child(SERVICE, owner_name, optional=False),
    Child(SERVICE, stable_name, optional=False),
    Child(SERVICE, canary_name, optional=False),
    Child(HPA, owner_name),
    Child(PDB, owner_name),
    Child(POD_MONITOR, owner_name),
    Child(CERTIFICATE, certificate_child_name),  # expose.tls.issuerRef, whatever the exposure (render/tls.py)
    Child(CONFIG_MAP, config_map_name),  # the asgi_edge wrapper's source (render/edge.py)
    # one per revision and attempt (rollout.predeploy.job_name); deleted by their TTL, never by the operator
    Child(JOB, owner_name, optional=False),
)
# what waits for a first deploy's pre-deploy Job: nothing of the workload runs before it succeeded
HELD_KINDS: Final = frozenset(k.kind for k in (DEPLOYMENT, HPA, PDB))


@dataclass(frozen=True)
class CanaryPlan:
    """The canary Deployment: which spec it runs and how many pods (zero between rollouts)."""

    spec: AsgiServiceSpec
    replicas: int


def revision_of(owner: Owner, spec: AsgiServiceSpec) -> str:
    return pod_template(owner, spec)[1]


def workload(
    owner: Owner, spec: AsgiServiceSpec, *, stable_spec: AsgiServiceSpec | None = None, canary: CanaryPlan | None = None
) -> list[Manifest]:
    """The Deployments (stable, and canary once a rollout has started), Services, HPA and PDB."""
    stable_template, _ = pod_template(owner, stable_spec or spec)
    # the wrapper's ConfigMap first: pods mount it, while either track's pods use the wrapper
    tracks = (spec, stable_spec or spec, canary.spec if canary is not None else spec)
    wrapped = next((t for t in tracks if t.observability.wrapper), spec)
    out: list[Manifest] = [
        *config_map(owner, wrapped),
        deployment(owner, spec, stable_template, track=keys.TRACK_STABLE, replicas=fixed_replicas(spec)),
        *services(owner, spec),
    ]
    if canary is not None:
        canary_template, _ = pod_template(owner, canary.spec)
        out.append(deployment(owner, spec, canary_template, track=keys.TRACK_CANARY, replicas=canary.replicas))
    return out + [m for m in (hpa(owner, spec), pdb(owner, spec)) if m is not None]


def monitoring(owner: Owner, spec: AsgiServiceSpec, *, pod_monitor_crd: bool) -> list[Manifest]:
    return [pod_monitor(owner, spec)] if wants_pod_monitor(spec, pod_monitor_crd) else []


def certificates(owner: Owner, spec: AsgiServiceSpec, *, cert_manager_crd: bool) -> list[Manifest]:
    """The Certificate of expose.tls.issuerRef; none without cert-manager's CRD (the reconciler reports that as a
    condition instead of failing every apply)."""
    wanted = certificate(owner, spec) if cert_manager_crd and wants_certificate(spec) else None
    return [wanted] if wanted is not None else []
