"""The base of every spec model, and the helpers that write the same check in CEL and in Python."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel

from .durations import seconds
from .rules import Rule

# Validation context of a spec the operator stored itself (status.rollout.stableSpec): the API server admitted it
# when it was written, so the rules across fields (CEL at apply time) are not judged again: a rule added since
# then must not strand an object whose stable track ran that spec. Fields still parse with their own types.
STORED: dict[str, bool] = {"stored": True}


def _rules_to_schema(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    rules: tuple[Rule, ...] = getattr(cls, "RULES", ())
    if rules:
        schema.setdefault("x-kubernetes-validations", []).extend(r.as_validation() for r in rules)


class Model(BaseModel):
    """Base of every spec model: camelCase in YAML, unknown fields rejected, `RULES` checked."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra=_rules_to_schema,
        use_enum_values=False,
        validate_default=True,
    )
    RULES: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Any:
        if isinstance(info.context, dict) and info.context.get("stored"):
            return self
        for rule in self.RULES:
            if not rule.check(self):
                where = f"{rule.field_path.lstrip('.')}: " if rule.field_path else ""
                raise ValueError(f"{where}{rule.explain(self) if rule.explain else rule.message}")
        return self


def nested(model: type[BaseModel], description: str) -> Any:
    """An optional sub-object whose defaults the CRD spells out in full (the API server validates a
    default as written, so `{}` would fail the sub-object's own rules)."""
    return Field(default_factory=model, description=description)


def cel_ceil(duration_field: str) -> str:
    """CEL for a duration in whole seconds, rounded up (how the servers' flags and Kubernetes take it);
    `ceil_seconds` is the same in Python."""
    d = f"duration({duration_field})"
    # cel-go's getMilliseconds() on a duration is the TOTAL in milliseconds (Go's Duration.Milliseconds()),
    # not the part below a second: the fraction is the remainder
    return f"({d}.getSeconds() + ({d}.getMilliseconds() % 1000 > 0 ? 1 : 0))"


def ceil_seconds(duration: str) -> int:
    return math.ceil(seconds(duration))


def cel_regex(pattern: str, target: str = "self") -> str:
    """CEL: does `target` match `pattern` (a raw string literal, so the pattern is written as in Python)."""
    return f"{target}.matches(r'{pattern}')"
