"""Writing an AsgiService's children: only what is missing, stale (its config hash differs) or drifted (a field
the operator owns was changed) is applied; what is no longer wanted is deleted; a router's patch of the user's
own object is sent only when something must change. Every write is counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..api import keys
from ..api.kinds import Kind
from ..api.models import AsgiServiceSpec
from ..kube.api import JSON_PATCH, Body, KubeApi
from ..reconcile.changes import Change, Changes, classify
from ..reconcile.handover import replicas_handover
from ..reconcile.observe import folded
from ..reconcile.plan import Plan
from ..render.drift import holds
from ..render.meta import Owner
from ..routers import RouterError, kind_of, owned_kinds, patched_kinds
from . import telemetry
from .store import Reads

_KINDS = {(k.api_version, k.kind): k for k in (*owned_kinds(), *patched_kinds())}


@dataclass
class Written:
    changes: Changes = field(default_factory=Changes)
    applied: dict[tuple[str, str], Body] = field(default_factory=dict)  # (kind, name) -> the object returned
    writes: int = 0


# may this manifest be written over the live object (None: missing)? False: it is withheld, the live one kept
Gate = Callable[[Body, Body | None], bool]


class ChildWriter:
    def __init__(self, api: KubeApi, reads: Reads, owner: Owner, gate: Gate | None = None) -> None:
        self.api, self.reads, self.owner, self.namespace = api, reads, owner, owner.namespace
        self.gate = gate  # asked only before a write (never at idle): controller.gateway_status.FeatureGate
        self.written = Written()

    def sync(
        self,
        the_plan: Plan,
        spec: AsgiServiceSpec,
        weight: int,
        *,
        converged_before: bool,
        newly_served: frozenset[str] = frozenset(),
    ) -> Written:
        """`newly_served`: kinds the last converged pass could not want (reconcile.changes.newly_served)."""
        for manifest in the_plan.children.apply:
            kind = kind_of(manifest)
            self._apply_if_needed(kind, manifest, spec, converged_before and kind.kind not in newly_served)
        for api_version, kind_name, name in the_plan.children.delete:
            self._delete_if_ours(_KINDS[(api_version, kind_name)], name)
        existing = the_plan.router.existing(spec)
        if existing is not None:  # an object the user owns: only the router's fields are patched
            kind, name = existing
            # the user's object is no child of ours (not in the store): read fresh, then patched guarded by its
            # resourceVersion
            live = self.api.get(kind, self.namespace, name)
            ops = the_plan.router.patch_existing(self.owner, spec, live, weight)
            if ops:
                self.api.patch(kind, self.namespace, name, ops, content_type=JSON_PATCH)
                self._count(kind, "patch")
        return self.written

    def _apply_if_needed(self, kind: Kind, manifest: Body, spec: AsgiServiceSpec, converged_before: bool) -> None:
        if not self.api.served(kind):
            raise RouterError(
                f"{manifest['kind']} ({kind.api_version}) is not served by this cluster: install its CRD "
                f"({kind.plural}.{kind.group}), or change spec.expose"
            )
        name = manifest["metadata"]["name"]
        live = self.reads.get(kind, self.namespace, name)
        # the store keeps long ConfigMap values as digests: both sides compared in that form (a fresh read of a
        # kind the store could not list has the whole text)
        if live is not None and holds(folded(kind.kind, manifest), folded(kind.kind, live)):
            return
        if self.gate is not None and not self.gate(manifest, live):
            return  # the live object (if any) keeps serving: told by the gate's owner
        handover = replicas_handover(spec, manifest, live)
        if handover is not None and live is not None:
            self._apply(kind, handover, keys.REPLICAS_FIELD_MANAGER)  # before the main manager lets go
        self._apply(kind, manifest, keys.FIELD_MANAGER)
        if handover is not None and live is None:
            self._apply(kind, handover, keys.REPLICAS_FIELD_MANAGER)  # the HPA's minimum from the start
        self.written.changes.add(classify(manifest, live, converged_before=converged_before), f"{kind.kind}/{name}")

    def create_once(self, kind: Kind, manifest: Body) -> None:
        """Create an object that must never be changed nor made twice (a Job): nothing if it exists."""
        if self.reads.get(kind, self.namespace, manifest["metadata"]["name"]) is None:
            self._apply(kind, manifest, keys.FIELD_MANAGER)

    def _apply(self, kind: Kind, manifest: Body, field_manager: str) -> None:
        applied = self.api.apply(kind, manifest, field_manager=field_manager)
        self.reads.wrote(applied)
        self.written.applied[(manifest["kind"], manifest["metadata"]["name"])] = applied
        self._count(kind, "apply")

    def _delete_if_ours(self, kind: Kind, name: str) -> None:
        if not self.api.served(kind):
            return
        live = self.reads.get(kind, self.namespace, name)
        if live is None or not _owned_by(live, self.owner.uid):
            return
        self.api.delete(kind, self.namespace, name, uid=live["metadata"]["uid"])
        self.reads.deleted(kind, self.namespace, name)
        self._count(kind, "delete")
        self.written.changes.add(Change.UPDATED, f"{kind.kind}/{name} (deleted)")

    def _count(self, kind: Kind, verb: str) -> None:
        telemetry.API_WRITES.labels(kind.kind, verb).inc()
        self.written.writes += 1


def _owned_by(live: Body, uid: str) -> bool:
    return any(ref.get("uid") == uid and ref.get("controller") for ref in live["metadata"].get("ownerReferences", []))
