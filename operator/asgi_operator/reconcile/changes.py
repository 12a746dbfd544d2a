"""What a write to a child means, in words for events: created, updated (the spec changed), or repaired (the
operator's manifest did not change: somebody else changed or deleted the object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..api import keys
from ..api.vocabulary import EventReason
from ..rollout.machine import Event


class Change(Enum):
    CREATED = EventReason.CREATED
    UPDATED = EventReason.UPDATED
    REPAIRED = EventReason.DRIFT_REPAIRED


def classify(manifest: dict[str, Any], live: dict[str, Any] | None, *, converged_before: bool) -> Change:
    """`live` is the object before the write (None: missing). `converged_before`: the last reconcile wrote every
    child of this kind at this generation, so a missing one was deleted by somebody else."""
    if live is None:
        return Change.REPAIRED if converged_before else Change.CREATED
    if _config_hash(live) == _config_hash(manifest):
        return Change.REPAIRED  # our manifest did not change: somebody changed the object
    return Change.UPDATED


def newly_served(served: frozenset[str], before: frozenset[str] | None) -> frozenset[str]:
    """Of the kinds whose children depend on a CRD (PodMonitor, Certificate), those served now but not at the
    object's last pass that wrote every child (`before`; None: no such pass known, as after a restart). The last
    pass did not want a child of such a kind: one missing now is created, not put back."""
    return served if before is None else served - before


@dataclass
class Changes:
    refs: dict[Change, list[str]] = field(default_factory=lambda: {c: [] for c in Change})

    def add(self, change: Change, ref: str) -> None:
        self.refs[change].append(ref)

    def events(self, *, spec_changed: bool) -> list[Event]:
        """One event per kind of change. Updates are told only for a spec change: rollout-driven updates
        (weights, canary size) are told by the rollout's own events."""
        out = []
        if self.refs[Change.CREATED]:
            out.append(Event(Change.CREATED.value, f"created {', '.join(self.refs[Change.CREATED])}"))
        if spec_changed and self.refs[Change.UPDATED]:
            out.append(Event(Change.UPDATED.value, f"updated {', '.join(self.refs[Change.UPDATED])}"))
        if self.refs[Change.REPAIRED]:
            out.append(
                Event(
                    Change.REPAIRED.value,
                    f"put back {', '.join(self.refs[Change.REPAIRED])} (changed or deleted outside the operator)",
                )
            )
        return out


def _config_hash(manifest: dict[str, Any]) -> str | None:
    value = manifest.get("metadata", {}).get("annotations", {}).get(keys.ANNOTATION_CONFIG_HASH)
    return str(value) if value is not None else None
