"""Cross-field validation rules, declared once for both places that enforce them.

Each `Rule` carries the CEL expression the API server evaluates at `kubectl apply` (emitted into the CRD as
`x-kubernetes-validations`) and the same check in Python (run by the pydantic model), so the operator and
the API server agree on what is valid. A parity test applies invalid manifests to the real API server and
to the models and expects both to reject them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    cel: str
    message: str
    check: Callable[[Any], bool]
    # The field the message is about, relative to the object the rule sits on (".minReplicas"): the API
    # server reports the error at that path, so the user sees which field to fix.
    field_path: str | None = None
    # A message naming the offending value: a CEL string expression for the API server (`messageExpression`)
    # and the same in Python. `message` stays the fallback the API server shows if the expression fails.
    message_expression: str | None = None
    explain: Callable[[Any], str] | None = None

    def as_validation(self) -> dict[str, str]:
        out = {"rule": self.cel, "message": self.message}
        if self.message_expression:
            out["messageExpression"] = self.message_expression
        if self.field_path:
            out["fieldPath"] = self.field_path
        return out


def cel_string(value: str) -> str:
    """A Python string as a CEL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
