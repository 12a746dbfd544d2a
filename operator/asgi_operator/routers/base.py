"""The interface every traffic router implements, and the defaults most of them share.

A router puts the canary's share of traffic into effect for one way of exposing the app. Each one declares
what it may create (`owns`) and which objects owned by the user it patches (`patches`); the operator's
deletions, watches and RBAC rules are derived from those declarations (`routers.registry`), so a new router
is one new file and one entry in the registry.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from ..api.kinds import Kind
from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Child, Manifest, Owner

JsonPatch = list[dict[str, Any]]


class TrafficRouter(Protocol):
    @property
    def name(self) -> Router:
        """The value of spec.rollout.router it implements."""
        ...

    @property
    def approximate(self) -> bool:
        """True: the split is only approximated (by pod counts)."""
        ...

    @property
    def owns(self) -> tuple[Child, ...]:
        """Every object it may create."""
        ...

    @property
    def patches(self) -> tuple[Kind, ...]:
        """Kinds of objects the user owns whose fields it patches."""
        ...

    def applies(self, spec: AsgiServiceSpec, *, chosen: bool) -> bool:
        """Can it split traffic for this spec's exposure? `chosen`: spec.rollout.router names it (else it is
        being considered as the default for the exposure)."""
        ...

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        """The exposure and traffic objects the operator owns, with `weight` percent of traffic on the canary.
        `canary` says whether a canary Deployment exists (some objects only make sense with one)."""
        ...

    def existing(self, spec: AsgiServiceSpec) -> tuple[Kind, str] | None:
        """The user's object this router patches (read it, then call `patch_existing`), if any."""
        ...

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> JsonPatch | None:
        """For the user's object: the JSON patch that sets only what the split needs, or None when nothing needs
        to change. Raises RouterError when it cannot be done."""
        ...


class OwnedObjectsOnly:
    """Defaults for a router that only creates objects of its own (patches nothing the user owns)."""

    approximate: ClassVar[bool] = False
    patches: ClassVar[tuple[Kind, ...]] = ()

    def existing(self, spec: AsgiServiceSpec) -> tuple[Kind, str] | None:
        return None

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> JsonPatch | None:
        return None


class RouterError(Exception):
    """The traffic object cannot carry the split; the message says what to fix."""
