"""The example ASGI app: a small FastAPI service instrumented for Prometheus.

Used by the docs, the demo and the end-to-end canary tests. Its behaviour is set by environment variables,
so one image can play a good release and a bad one:

  APP_VERSION        reported by GET / (default "v1")
  ERROR_RATE         share of GET / answered with HTTP 500, 0..1 (default 0); spread evenly, not at random,
                     so a 5 % release fails exactly one request in twenty, starting with the first
  LATENCY_MS         extra latency added to GET /, in milliseconds (default 0)
  CHECKOUT_BROKEN    "1": GET /checkout, a rarely used route, always answers HTTP 500 (default: it works)
  METRICS_LIBRARY    "instrumentator" (prometheus-fastapi-instrumentator, default) or "starlette-exporter"
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random

from fastapi import FastAPI, Response

VERSION = os.environ.get("APP_VERSION", "v1")
ERROR_RATE = float(os.environ.get("ERROR_RATE", "0"))
LATENCY_MS = float(os.environ.get("LATENCY_MS", "0"))
METRICS_LIBRARY = os.environ.get("METRICS_LIBRARY", "instrumentator")
CHECKOUT_BROKEN = os.environ.get("CHECKOUT_BROKEN") == "1"

app = FastAPI(title="hello", version=VERSION)
_requests = itertools.count(1)


def _should_fail() -> bool:
    """Exactly ERROR_RATE of requests fail, the first one included (1st, 21st, 41st... at 5 %)."""
    n = next(_requests)
    offset = 1 - ERROR_RATE
    return math.floor(n * ERROR_RATE + offset) > math.floor((n - 1) * ERROR_RATE + offset)


@app.get("/")
async def hello(response: Response) -> dict[str, str]:
    if LATENCY_MS:
        await asyncio.sleep(LATENCY_MS / 1000 * random.uniform(0.9, 1.1))  # noqa: S311
    if ERROR_RATE and _should_fail():
        response.status_code = 500
        return {"error": "simulated failure", "version": VERSION}
    return {"message": "hello", "version": VERSION}


@app.get("/checkout")
async def checkout(response: Response) -> dict[str, str]:
    if CHECKOUT_BROKEN:
        response.status_code = 500
        return {"error": "checkout is broken in this release", "version": VERSION}
    return {"checkout": "ok", "version": VERSION}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if METRICS_LIBRARY == "starlette-exporter":
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    app.add_middleware(PrometheusMiddleware, app_name="hello", group_paths=True)
    app.add_route("/metrics", handle_metrics)
else:
    from prometheus_fastapi_instrumentator import Instrumentator

    Instrumentator(excluded_handlers=["/metrics", "/healthz"]).instrument(app).expose(app, include_in_schema=False)
