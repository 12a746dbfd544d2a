"""What the in-app edge wrapper (operator/asgi_operator/edge/asgi_edge.py) costs per request, in process.

Each variant is called N times as an ASGI app inside one event loop (no server, no network, no sockets), with the
headers a request behind a proxy carries; the wrapper's access line goes to /dev/null through the same one-write-
per-line sink it uses in the pod (so the system call is counted). Prints ns/request and the overhead over the plain
app; asserts nothing (numbers are for a person to read, not a timed test).

    .venv/bin/python bench/edge_bench.py            # BENCH_EDGE_N requests per variant (default 20000)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from fastapi import FastAPI

from asgi_operator.edge import asgi_edge

N = int(os.environ.get("BENCH_EDGE_N", "20000"))
ROUNDS = 5
HEADERS = [
    (b"host", b"hello.example.com"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) bench"),
    (b"accept", b"application/json"),
    (b"accept-encoding", b"gzip, br"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"x-forwarded-proto", b"https"),
]


async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"message":"hello"}'})


fastapi_app = FastAPI()


@fastapi_app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


def scope(path: str, extra: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*HEADERS, *extra],
        "client": ("10.0.0.1", 40000),
        "server": ("10.0.0.2", 8000),
        "state": {},
    }


async def run(app: Any, request_scope: dict[str, Any], n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    start = time.perf_counter_ns()
    for _ in range(n):
        await app(dict(request_scope), receive, send)
    return (time.perf_counter_ns() - start) / n


def main() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    sink = asgi_edge._fd_sink(devnull)
    cors = {
        "ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://app.example.com",
        "ASGI_EDGE_CORS_ALLOW_METHODS": "GET,POST",
        "ASGI_EDGE_CORS_ALLOW_CREDENTIALS": "true",
    }
    no_log = {"ASGI_EDGE_ACCESS_LOG": "off"}
    rid = [(b"x-request-id", b"0f8fad5bd9cb469fa16570867728950e")]
    origin = [(b"origin", b"https://app.example.com")]
    variants: list[tuple[str, Any, dict[str, Any]]] = [
        ("plain ASGI app", plain, scope("/", [])),
        ("+ wrapper: fresh request id + JSON line", asgi_edge.build(plain, {}, sink), scope("/", [])),
        ("+ wrapper: incoming X-Request-ID + JSON line", asgi_edge.build(plain, {}, sink), scope("/", rid)),
        ("+ wrapper: request id only (log off)", asgi_edge.build(plain, no_log), scope("/", [])),
        ("+ wrapper + CORS (Starlette), Origin sent", asgi_edge.build(plain, cors, sink), scope("/", origin)),
        ("FastAPI route (for scale)", fastapi_app, scope("/items/7", [])),
        ("FastAPI route + wrapper", asgi_edge.build(fastapi_app, {}, sink), scope("/items/7", [])),
    ]
    print(f"python {sys.version.split()[0]}, {N} requests x {ROUNDS} rounds per variant (best round), ns/request")
    # rounds interleave the variants, and the best round counts: on a shared machine, other processes only ever
    # add time, so the minimum is the estimate least disturbed by them
    for _, app, request_scope in variants:
        asyncio.run(run(app, request_scope, N // 10))  # warm-up
    best = [asyncio.run(run(app, request_scope, N)) for _, app, request_scope in variants]
    for _ in range(ROUNDS - 1):
        for i, (_, app, request_scope) in enumerate(variants):
            best[i] = min(best[i], asyncio.run(run(app, request_scope, N)))
    baseline: dict[str, float] = {}
    for (name, _, _), ns in zip(variants, best, strict=True):
        base = baseline.setdefault("fastapi" if "FastAPI" in name else "plain", ns)
        overhead = "" if ns == base else f"  (+{ns - base:,.0f} ns)"
        print(f"  {name:<48} {ns:>10,.0f}{overhead}")
    os.close(devnull)


if __name__ == "__main__":
    main()
