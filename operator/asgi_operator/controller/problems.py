"""What an error means for the AsgiService's status: which condition reason, what message, and whether it
needs a person (stalled) or goes away with a retry; and an unexpected exception told in one line."""

from __future__ import annotations

from ..api.vocabulary import EventReason as R
from ..kube.api import ApiError
from ..reconcile.status import Problem
from ..routers import RouterError

# what an API server answers for a moment's trouble: a timeout, a conflicting write, throttling (and any 5xx)
_TRANSIENT = frozenset({408, 409, 429})


def problem_of(error: ApiError | RouterError) -> Problem:
    if isinstance(error, RouterError):
        return Problem(R.ROUTER_ERROR, str(error), stalled=True)
    if error.rbac_denied:
        return Problem(R.FORBIDDEN, f"the operator lacks a permission: {error.message}", stalled=False)
    if error.forbidden:  # admission (quota, pod security, a webhook), not RBAC
        return Problem(R.ADMISSION_DENIED, f"the API server refused a child object: {error.message}", stalled=False)
    if error.status == 422:
        return Problem(R.INVALID_CHILD, f"the API server rejected a child object: {error.message}", stalled=True)
    message = f"{error.status} {error.reason}: {error.message}"
    return Problem(R.API_ERROR, message, stalled=False, transient=error.status in _TRANSIENT or error.status >= 500)


def unexpected(error: Exception) -> str:
    """An unexpected exception in one line for status and events: its type and message, never a traceback."""
    text = str(error).strip().splitlines()
    return f"the reconcile failed unexpectedly and is retried with backoff: {type(error).__name__}" + (
        f": {text[0][:300]}" if text else ""
    )
