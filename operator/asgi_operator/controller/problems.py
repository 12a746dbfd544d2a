"""What an error means for the AsgiService's status: which condition reason, what message, and whether it
needs a person (stalled) or goes away with a retry."""

from __future__ import annotations

from ..api.vocabulary import EventReason as R
from ..kube.api import ApiError
from ..reconcile.status import Problem
from ..routers import RouterError


def problem_of(error: ApiError | RouterError) -> Problem:
    if isinstance(error, RouterError):
        return Problem(R.ROUTER_ERROR, str(error), stalled=True)
    if error.rbac_denied:
        return Problem(R.FORBIDDEN, f"the operator lacks a permission: {error.message}", stalled=False)
    if error.forbidden:  # admission (quota, pod security, a webhook), not RBAC
        return Problem(R.ADMISSION_DENIED, f"the API server refused a child object: {error.message}", stalled=False)
    if error.status == 422:
        return Problem(R.INVALID_CHILD, f"the API server rejected a child object: {error.message}", stalled=True)
    return Problem(R.API_ERROR, f"{error.status} {error.reason}: {error.message}", stalled=False)
