"""The example app as a played pod runs it: the same app (examples/app/main.py), each answer marked with the pod
that gave it (`x-lab-pod`), so a client behind the real gateway can tell which pod, track and revision answered.
Lifespan and everything else pass through untouched."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from main import app as example_app  # examples/app is on PYTHONPATH in a played pod

Message = MutableMapping[str, Any]
POD = os.environ.get("LAB_POD", "").encode()


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        await example_app(scope, receive, send)
        return

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-lab-pod", POD)]}
        await send(message)

    await example_app(scope, receive, marked)
