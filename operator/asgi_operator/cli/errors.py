"""What `kubectl asgi` tells a person of an error: one line on stderr, `error: <reason>`, never a traceback.

Which errors those are depends on what the command imported: the Kubernetes client's (an API server's answer, no
answer, no usable kubeconfig), a manifest that is not YAML or not an AsgiService. An error of a module the
command never imported cannot have been raised, so none is imported here just to be compared with.
"""

from __future__ import annotations

import sys


class NotFound(Exception):
    """The object does not exist, or was deleted while followed."""


def error(message: str) -> None:
    """To stderr, plain: errors are read by people and by scripts alike."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def told(e: BaseException) -> str | None:
    """The line to tell for an error a person can act on, or None for anything else (a bug: the traceback)."""
    if isinstance(e, NotFound):
        return str(e)
    if "asgi_operator.kube.api" in sys.modules:
        from ..kube.api import CONFIG_ERRORS, TRANSPORT_ERRORS, ApiError

        if isinstance(e, ApiError):
            return f"{e.reason}: {e.message}" if e.reason else e.message
        if isinstance(e, CONFIG_ERRORS):  # before TRANSPORT_ERRORS: a missing file is an OSError too
            return str(e)
        if isinstance(e, TRANSPORT_ERRORS):
            return f"cannot reach the API server: {e}"
    if "asgi_operator.cli.preview" in sys.modules:
        from .preview import NotAnAsgiService

        if isinstance(e, NotAnAsgiService):
            return str(e)
    if "yaml" in sys.modules:
        import yaml

        if isinstance(e, yaml.YAMLError):
            return str(e)
    if isinstance(e, OSError):  # a file that cannot be read (render -f), as the kubeconfig's FileNotFoundError
        return str(e)
    return None
