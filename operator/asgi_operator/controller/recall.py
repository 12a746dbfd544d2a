"""What the reconciler remembers of an object between its passes, in this process only. Losing it (a restart)
costs little: a transient problem is retried once more before it is told, and a missing child of a kind whose CRD
came is announced as created rather than put back."""

from __future__ import annotations

from ..reconcile.changes import newly_served
from ..reconcile.status import Problem
from .queue import Key


class Recall:
    def __init__(self) -> None:
        self._retried: set[Key] = set()  # the last pass failed on a transient problem, not told
        self._served: dict[Key, frozenset[str]] = {}  # CRD-dependent kinds served at the last pass writing every child

    def tells(self, key: Key, problem: Problem) -> bool:
        """Is `problem` to be told in status and as an event? A transient one only once it outlived its retry (the
        pass before failed too): a 500 that the retry a second later gets past flips no condition, posts no event."""
        if not problem.transient or key in self._retried:
            return True
        self._retried.add(key)
        return False

    def succeeded(self, key: Key) -> None:
        self._retried.discard(key)

    def newly_served(self, key: Key, served: frozenset[str]) -> frozenset[str]:
        return newly_served(served, self._served.get(key))

    def wrote_every_child(self, key: Key, served: frozenset[str]) -> None:
        self._served[key] = served

    def forget(self, key: Key) -> None:
        self._retried.discard(key)
        self._served.pop(key, None)
