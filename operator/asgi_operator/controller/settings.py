"""Operator-wide settings (command line flags and environment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .credentials import DefaultAuth


@dataclass(frozen=True)
class Settings:
    prometheus_url: str | None = None  # used when an AsgiService names no Prometheus address
    # credentials for prometheus_url only (never sent to an address an AsgiService names)
    prometheus_auth: DefaultAuth = field(default_factory=DefaultAuth)
    concurrency: int = 8  # AsgiServices reconciled at once
    api_qps: float = 100.0  # requests per second to the API server, sustained (0: unlimited)
    api_burst: int = 200  # and in a burst
    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()  # watched namespaces; empty: all
    api_timeout: float = 30.0
    peering_lifetime: int = 30  # seconds; a standby takes over this long after the active one went silent
    peering: str | None = None  # Kopf peering name (None: standalone); with it, reconciles only while active
    priority: int = 0  # this replica's peering priority
    identity: str = ""  # this replica's peering identity (given to Kopf)
