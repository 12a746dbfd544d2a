"""Namespaces being deleted, as the namespace watch reports them (and as 403 NamespaceTerminating answers
reveal them). While a namespace terminates, its AsgiServices get no reconcile at all: the namespace
controller is deleting their children, and re-creating them would only fight it."""

from __future__ import annotations

import threading


class TerminatingNamespaces:
    def __init__(self) -> None:
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def mark(self, name: str) -> bool:
        """Remember `name` as terminating; True when it was not known yet."""
        with self._lock:
            new = name not in self._names
            self._names.add(name)
            return new

    def clear(self, name: str) -> None:
        with self._lock:
            self._names.discard(name)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._names
