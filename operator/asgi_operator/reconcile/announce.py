"""Rollout events, exactly once: each event a decision announces gets the next sequence number and a
deterministic name, and is kept in status as pending until it has been posted (see controller.reporting). Advice
on a spec (reconcile.advice) is named after the spec's generation: told once per generation."""

from __future__ import annotations

from dataclasses import replace

from ..api.models import PendingEvent
from ..rollout.machine import Decision


def event_name(name: str, uid: str, seq: int) -> str:
    """`<asgiservice>.<first 8 of its uid>.<sequence>`: posting it twice is a 409, never a second event."""
    return f"{name}.{uid[:8]}.{seq:04d}"


def advice_name(name: str, uid: str, generation: int, topic: str) -> str:
    """`<asgiservice>.<first 8 of its uid>.g<generation>.<topic>`: advice on a spec is told once per generation."""
    return f"{name}.{uid[:8]}.g{generation}.{topic}"


def sequence(decision: Decision, name: str, uid: str) -> Decision:
    """The decision with its events numbered, named and appended to the pending events in its position."""
    if not decision.events:
        return decision
    rollout = decision.rollout.model_copy(deep=True)
    for event in decision.events:
        rollout.event_seq += 1
        rollout.pending_events.append(
            PendingEvent(
                name=event_name(name, uid, rollout.event_seq),
                reason=event.reason,
                message=event.message,
                type=event.type,
            )
        )
    return replace(decision, rollout=rollout)
