"""What `kubectl asgi render` and `diff` read and write: the AsgiServices of manifest files, and multi-document
YAML. Imported by those two commands only (YAML and the operator's models are not needed elsewhere)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from . import preview
from .settings import Settings


def _documents(files: tuple[str, ...]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for file in files:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def _namespace_of(settings: Settings, doc: dict[str, Any]) -> str:
    """The file's namespace, else -n, else the context's (kubectl apply's rule; a conflict is an error)."""
    mine = (doc.get("metadata") or {}).get("namespace")
    if mine and settings.namespace and mine != settings.namespace:
        raise click.UsageError(
            f"the namespace from the provided object ({mine}) does not match the namespace given with -n "
            f"({settings.namespace})"
        )
    return str(mine or settings.current_namespace())


def services(settings: Settings, files: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str]]:
    """Each AsgiService of the files with its namespace; other documents are skipped, with a note on stderr."""
    for doc in _documents(files):
        if preview.is_asgi_service(doc):
            yield doc, _namespace_of(settings, doc)
        else:
            meta = doc.get("metadata") or {} if isinstance(doc, dict) else {}
            kind = doc.get("kind", "?") if isinstance(doc, dict) else type(doc).__name__
            print(f"skipped {kind}/{meta.get('name', '?')}: not an AsgiService", file=sys.stderr)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a ConfigMap's file) as literal blocks, readable as the file they are."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in the order rendered, never folded (reads back as the same objects)."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=1_000_000)


def trim(live: dict[str, Any]) -> dict[str, Any]:
    """What `diff` shows of an object the operator would delete: its identity."""
    meta = live.get("metadata") or {}
    return {
        "apiVersion": live.get("apiVersion"),
        "kind": live.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
    }
