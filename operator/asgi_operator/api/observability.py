"""`spec.observability`: request IDs and JSON access logs from the asgi_edge wrapper in the app's pod, hints for
log shippers, and OpenTelemetry auto-instrumentation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Model

REQUEST_ID_HEADER = "X-Request-ID"


class ObservabilitySpec(Model):
    """The asgi_edge wrapper (on by default) sits in front of the app without changing its code: every HTTP
    request gets an ID (the incoming X-Request-ID, else the trace-id of a W3C traceparent, else a fresh one),
    echoed in the response and put on the app's log records, and one JSON access line is written when the
    response ends (status, duration_ms, bytes, route, request_id, client_ip...). The server's own access log is
    then turned off (no duplicate lines). If the wrapper cannot start, the app is served without it and one JSON
    error line says why; an app that fails to import fails as it would without it."""

    wrapper: bool = Field(
        True,
        description="Run the app behind the asgi_edge wrapper. false: the server's command is exactly the one "
        "without observability (and its own access log), no request IDs, no JSON access log.",
    )
    request_id_header: str = Field(
        REQUEST_ID_HEADER,
        max_length=64,
        pattern=r"^[A-Za-z0-9][-A-Za-z0-9]*$",
        description="The request ID's header, read from requests and set on responses.",
    )
    access_log: Literal["JSON", "Off"] = Field(
        "JSON", description="JSON: one line per request on stdout when the response ends. Off: none."
    )
    access_log_skip: list[Annotated[str, Field(max_length=256, pattern=r"^/")]] | None = Field(
        None,
        max_length=32,
        description="Paths never written to the access log. Unset: the probes' and the metrics path.",
    )
    log_shippers: list[Literal["Filebeat", "FluentBit"]] = Field(
        default_factory=list,
        max_length=2,
        description="Pod annotations telling these shippers the logs are JSON: Filebeat autodiscover hints "
        "(co.elastic.logs/json.*), Fluent Bit (fluentbit.io/parser: json).",
    )
    open_telemetry: bool = Field(
        False,
        description="Ask the OpenTelemetry Operator to inject Python auto-instrumentation "
        '(instrumentation.opentelemetry.io/inject-python: "true"); needs its Instrumentation object.',
    )
