"""Names, labels, owner references and content hashes shared by every rendered object."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api import keys
from ..api.kinds import Kind

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The AsgiService a child belongs to."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": keys.API_VERSION,
            "kind": keys.KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class Child:
    """An object an AsgiService may own: its kind and how it is named. What the operator may create is declared
    once, as these, and the deletions, watches and RBAC rules are derived from the declarations."""

    kind: Kind
    name: Callable[[Owner], str]
    optional: bool = True  # False: always wanted, never deleted by the operator (garbage collection does it)

    def ref(self, owner: Owner) -> tuple[str, str, str]:
        return (self.kind.api_version, self.kind.kind, self.name(owner))


def owner_name(owner: Owner) -> str:
    return owner.name


def stable_name(owner: Owner) -> str:
    return f"{owner.name}-stable"


def canary_name(owner: Owner) -> str:
    return f"{owner.name}-canary"


def common_labels(owner: Owner) -> dict[str, str]:
    return {
        keys.LABEL_K8S_NAME: owner.name,
        keys.LABEL_K8S_MANAGED_BY: keys.MANAGED_BY,
        keys.LABEL_NAME: owner.name,
    }


def selector(owner: Owner, track: str | None = None) -> dict[str, str]:
    labels = {keys.LABEL_NAME: owner.name}
    if track:
        labels[keys.LABEL_TRACK] = track
    return labels


def metadata(
    owner: Owner, name: str, *, track: str | None = None, annotations: dict[str, str] | None = None
) -> Manifest:
    labels = common_labels(owner)
    if track:
        labels[keys.LABEL_TRACK] = track
    meta: Manifest = {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels,
        "ownerReferences": [owner.reference()],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def content_hash(value: object, length: int = 10) -> str:
    """A short, stable hash of JSON-able content (sorted keys, no whitespace)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def with_config_hash(manifest: Manifest) -> Manifest:
    """Stamp the manifest with a hash of itself. A child carrying the hash of the current desired manifest,
    with every desired field still in place, needs no request at all."""
    meta = manifest["metadata"]
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if k != keys.ANNOTATION_CONFIG_HASH}
    digest = content_hash({**manifest, "metadata": {**meta, "annotations": annotations}}, 16)
    return {
        **manifest,
        "metadata": {**meta, "annotations": {**annotations, keys.ANNOTATION_CONFIG_HASH: digest}},
    }
