"""What an error means for the AsgiService's status: which condition reason, what message, and whether it
needs a person (stalled) or goes away with a retry (the errors a failed pass raises to the work queue); and an
unexpected exception told in one line."""

from __future__ import annotations

from ..api.vocabulary import EventReason as R
from ..kube.api import ApiError, ApiUnreachable
from ..reconcile.status import Problem
from ..routers import RouterError
from .queue import RetryLater


class RetryableError(RetryLater):
    """The pass hit a problem that a retry may get past (told in status; a transient one once it outlived its
    retry); the work queue retries with backoff. `reason` is the Ready condition's reason, and the label it is
    counted under (asgi_operator_reconcile_errors_total)."""

    def __init__(self, message: str, reason: str = R.API_ERROR) -> None:
        super().__init__(message)
        self.reason = reason


class ApiUnavailable(RetryableError):
    """No answer from the API server at all: nothing could be reported. The controller waits until it answers
    again (one probe for the whole process) rather than each AsgiService retrying on its own."""

    def __init__(self, error: ApiUnreachable) -> None:
        super().__init__(str(error), R.API_UNREACHABLE)


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
