"""Generate the AsgiService CustomResourceDefinition from the pydantic models.

pydantic emits JSON Schema (draft 2020-12, with `$ref`s and `anyOf` for optionals); the API server wants a
*structural* OpenAPI v3.0 schema: everything inlined, every node typed, no `anyOf` except the int-or-string
form, no `additionalProperties: true`. This module converts one to the other, refusing any keyword it does
not know how to carry over, so a model change can never silently drop validation from the CRD.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from . import keys
from .models import MAX_NAME_LENGTH, NAME_MESSAGE, NAME_PATTERN, AsgiServiceSpec, AsgiServiceStatus

# Keywords copied as they are.
_PASSTHROUGH: Final = {
    "type",
    "description",
    "enum",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
}
_DROPPED: Final = {"title"}

# Where the models live, for the "generated from" headers.
MODELS_SOURCE: Final = "the models in operator/asgi_operator/api/"

NAME_RULE: Final = {
    "rule": f"self.metadata.name.size() <= {MAX_NAME_LENGTH} && self.metadata.name.matches(r'{NAME_PATTERN}')",
    "message": NAME_MESSAGE,
}


class _WithFactoryDefaults(GenerateJsonSchema):
    """Also emit defaults that come from a `default_factory`, so the API server applies them too."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            if isinstance(value, BaseModel):
                value = value.model_dump(mode="json", by_alias=True, exclude_none=True)
            patched: dict[str, Any] = {k: v for k, v in schema.items() if k != "default_factory"}
            patched["default"] = value
            return super().default_schema(patched)  # type: ignore[arg-type]
        return super().default_schema(schema)


def _structural(node: dict[str, Any], defs: dict[str, Any], *, keep_defaults: bool, where: str) -> dict[str, Any]:
    node = copy.deepcopy(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").split("/")[-1]]
        merged = {**copy.deepcopy(target), **node}
        # validations on the referencing field and on the model both apply
        if "x-kubernetes-validations" in target and "x-kubernetes-validations" in node:
            merged["x-kubernetes-validations"] = target["x-kubernetes-validations"] + node["x-kubernetes-validations"]
        return _structural(merged, defs, keep_defaults=keep_defaults, where=where)
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if node.get("x-kubernetes-int-or-string"):
            return _structural(node, defs, keep_defaults=keep_defaults, where=where)
        if len(branches) != 1:
            raise ValueError(f"{where}: cannot express anyOf {branches} in a structural schema")
        branch = branches[0]
        outer_rules = node.pop("x-kubernetes-validations", [])
        merged = {**branch, **{k: v for k, v in node.items() if k != "default" or v is not None}}
        if outer_rules or "x-kubernetes-validations" in branch:
            merged["x-kubernetes-validations"] = branch.get("x-kubernetes-validations", []) + outer_rules
        return _structural(merged, defs, keep_defaults=keep_defaults, where=where)

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _PASSTHROUGH:
            out[key] = value
        elif key == "default":
            if keep_defaults and value is not None and value != []:
                out["default"] = value
        elif key == "properties":
            out["properties"] = {
                name: _structural(sub, defs, keep_defaults=keep_defaults, where=f"{where}.{name}")
                for name, sub in value.items()
            }
        elif key == "required":
            out["required"] = sorted(value)
        elif key == "items":
            out["items"] = _structural(value, defs, keep_defaults=keep_defaults, where=f"{where}[]")
        elif key == "additionalProperties":
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif value is not False:
                out["additionalProperties"] = _structural(
                    value, defs, keep_defaults=keep_defaults, where=f"{where}{{}}"
                )
        elif key == "const":
            out["enum"] = [value]
        else:
            raise ValueError(f"{where}: schema keyword {key!r} has no structural equivalent here")
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    elif out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("type", "object")
    elif "type" not in out:
        raise ValueError(f"{where}: untyped schema node {node}")
    if out.get("type") == "object" and out.get("default") == {} and "properties" not in out:
        out.pop("default")
    return out


def openapi_schema(model: type[BaseModel], *, keep_defaults: bool) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_WithFactoryDefaults)
    defs = raw.pop("$defs", {})
    return _structural(raw, defs, keep_defaults=keep_defaults, where=model.__name__)


def undocumented(schema: dict[str, Any], path: str = "") -> list[str]:
    """The path of every property of `schema` without a description, and of every list item or map value that
    is an object without one (`spec.env[]`, `spec.podLabels{}`): `kubectl explain` has nothing to say there.

    A field typed with a model takes the model's docstring when the field has no description of its own (the
    `$ref` is inlined with the field's keys on top), so one of the two is enough."""
    missing: list[str] = []
    for name, sub in schema.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        if not str(sub.get("description", "")).strip():
            missing.append(where)
        missing += _undocumented_inside(sub, where)
    return missing


def _undocumented_inside(node: dict[str, Any], path: str) -> list[str]:
    missing = undocumented(node, path) if "properties" in node else []
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        inner = node.get(key)
        if not isinstance(inner, dict):
            continue
        if inner.get("type") == "object" and not str(inner.get("description", "")).strip():
            missing.append(path + suffix)
        missing += _undocumented_inside(inner, path + suffix)
    return missing


# Properties the API server describes itself: a CRD may not say anything about metadata but name and
# generateName, and the published OpenAPI gives it ObjectMeta's description.
DESCRIBED_BY_THE_API_SERVER: Final = frozenset({"metadata"})


def undocumented_in_crd(crd: dict[str, Any] | None = None) -> list[str]:
    """`undocumented` over every version of the generated CRD (or `crd`)."""
    crd = build_crd() if crd is None else crd
    return [
        path
        for version in crd["spec"]["versions"]
        for path in undocumented(version["schema"]["openAPIV3Schema"])
        if path not in DESCRIBED_BY_THE_API_SERVER
    ]


def printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {
            "name": "Replicas",
            "type": "integer",
            "jsonPath": ".status.readyReplicas",
            "description": "Ready pods of the stable revision",
        },
        {
            "name": "Canary",
            "type": "integer",
            "jsonPath": ".status.canaryWeight",
            "description": "Percent of traffic on the canary",
        },
        {
            "name": "Step",
            "type": "integer",
            "jsonPath": ".status.step",
            "description": "The rollout step the canary is at, counted from 1 (0 outside a rollout)",
        },
        {
            "name": "Failed",
            "type": "integer",
            "jsonPath": ".status.failedChecks",
            "description": "Failed analyses in a row (rollout.failureThreshold of them roll back)",
        },
        {"name": "Revision", "type": "string", "jsonPath": ".status.stableRevision"},
        {"name": "Image", "type": "string", "jsonPath": ".status.image", "priority": 1},
        {
            "name": "Message",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def build_crd() -> dict[str, Any]:
    spec = openapi_schema(AsgiServiceSpec, keep_defaults=True)
    status = openapi_schema(AsgiServiceStatus, keep_defaults=False)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{keys.PLURAL}.{keys.GROUP}",
            "annotations": {"asgi.dev/generated-by": "asgi_operator.api.crd (make crds); do not edit"},
        },
        "spec": {
            "group": keys.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": keys.KIND,
                "listKind": f"{keys.KIND}List",
                "plural": keys.PLURAL,
                "singular": keys.SINGULAR,
                "shortNames": list(keys.SHORT_NAMES),
                "categories": ["all", "asgi"],
            },
            "versions": [
                {
                    "name": keys.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": AsgiServiceSpec.__doc__,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string", "description": f"Always {keys.API_VERSION}."},
                                "kind": {"type": "string", "description": f"Always {keys.KIND}."},
                                # nothing but the type: the API server refuses more (even a description)
                                # and publishes ObjectMeta's own description in its place
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                            "x-kubernetes-validations": [NAME_RULE],
                        }
                    },
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def render_crd_yaml() -> str:
    header = f"# GENERATED by `make crds` from {MODELS_SOURCE}. Do not edit by hand.\n"
    return header + yaml.dump(build_crd(), Dumper=_Dumper, sort_keys=False, width=120)


def main() -> None:
    import sys

    sys.stdout.write(render_crd_yaml())


if __name__ == "__main__":
    main()
