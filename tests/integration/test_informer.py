"""The operator's own watches (controller.informer) against the real API server: what reaches the store, a
version the server no longer has (410: listed again, and what was deleted meanwhile is dropped), a kind whose
CRD appears later, and a kind this identity may not list."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgi_operator.api import keys
from asgi_operator.api.kinds import CONFIG_MAP, PDB, Kind
from asgi_operator.controller import telemetry
from asgi_operator.controller.informer import Informer
from asgi_operator.controller.store import Store
from asgi_operator.kube.api import Body, KubeApi, load_client
from integration.conftest import identity
from integration.helpers import wait_until
from lab.cluster import Cluster, Lab


class Recorder:
    """The informer's sink: what it was told, in order (informer thread -> test thread)."""

    def __init__(self, store: Store) -> None:
        self.store, self.events, self.lock = store, list[tuple[str | None, str]](), threading.Lock()

    def __call__(self, event_type: str | None, body: Body) -> None:
        meta = body["metadata"]
        if event_type == "DELETED":
            self.store.remove(body["kind"], meta["namespace"], meta["name"])
        else:
            self.store.put(body)
        with self.lock:
            self.events.append((event_type, meta["name"]))

    def saw(self, event_type: str | None, name: str) -> bool:
        with self.lock:
            return (event_type, name) in self.events


def config_map(namespace: str, name: str, owner: str | None = "web", data: str = "1") -> str:
    labels = {keys.LABEL_NAME: owner} if owner else {}
    meta = {"name": name, "namespace": namespace, "labels": labels}
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": data}})


@pytest.fixture
def api(cluster: Cluster) -> KubeApi:
    return KubeApi(load_client(str(cluster.admin_kubeconfig)))


@pytest.fixture
def running() -> Iterator[list[Informer]]:
    started: list[Informer] = []
    yield started
    for informer in started:
        informer.stop()


def test_objects_reach_the_store_as_they_change_and_unlabelled_ones_never(
    cluster: Cluster, namespace: str, api: KubeApi, running: list[Informer]
) -> None:
    cluster.kubectl_apply(config_map(namespace, "before"))
    store = Store((CONFIG_MAP,))
    sink = Recorder(store)
    informer = Informer(api, store, CONFIG_MAP, namespace, sink, selector=keys.LABEL_NAME, page=2)
    informer.prime()
    assert sink.events == [(None, "before")]  # listed, nothing else yet
    listed_at = informer.version
    assert listed_at and listed_at.isdigit()
    informer.start()
    running.append(informer)

    cluster.kubectl_apply(config_map(namespace, "after"))
    cluster.kubectl_apply(config_map(namespace, "stranger", owner=None))
    cluster.kubectl_apply(config_map(namespace, "before", data="2"))
    wait_until("the new object arrives", lambda: sink.saw("ADDED", "after"), 30)
    wait_until("the change arrives", lambda: sink.saw("MODIFIED", "before"), 30)
    changed = store.get(CONFIG_MAP, namespace, "before")
    assert changed is not None and changed["data"] == {"v": "2"}
    cluster.kubectl("delete", "configmap", "after", "-n", namespace)
    wait_until("the deletion arrives", lambda: sink.saw("DELETED", "after"), 30)
    assert store.get(CONFIG_MAP, namespace, "after") is None
    assert not any(name == "stranger" for _, name in sink.events)  # the label selector went to the server
    assert informer.version is not None and int(informer.version) > int(listed_at)


def pdb(namespace: str, name: str) -> str:
    meta = {"name": name, "namespace": namespace, "labels": {keys.LABEL_NAME: "web"}}
    spec = {"maxUnavailable": 1, "selector": {"matchLabels": {keys.LABEL_NAME: "web"}}}
    return json.dumps({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta, "spec": spec})


def test_a_version_the_server_no_longer_has_lists_again_and_drops_what_was_deleted(
    cluster: Cluster, namespace: str, api: KubeApi, running: list[Informer]
) -> None:
    if not isinstance(cluster, Lab):
        pytest.skip("compacts the lab's etcd on demand (a given cluster's etcd is out of reach)")
    # PodDisruptionBudgets: the lab's API server watches them from etcd itself (no watch cache, lab.cluster)
    cluster.kubectl_apply(pdb(namespace, "kept"))
    cluster.kubectl_apply(pdb(namespace, "gone"))
    store = Store((PDB,))
    sink = Recorder(store)
    informer = Informer(api, store, PDB, namespace, sink, selector=keys.LABEL_NAME)
    informer.prime()
    assert store.get(PDB, namespace, "gone") is not None
    # deleted while no watch ran, and etcd's history compacted past the informer's version
    cluster.kubectl("delete", "pdb", "gone", "-n", namespace)
    cluster.kubectl_apply(config_map(namespace, "after-the-deletion"))  # compacted past the deletion, too
    cluster.compact_etcd()
    expired = telemetry.WATCH_RESTARTS.labels("PodDisruptionBudget", "expired")
    before = expired._value.get()
    informer.start()
    running.append(informer)
    wait_until("the informer lists again", lambda: expired._value.get() > before, 30)
    wait_until("the deleted object is dropped", lambda: sink.saw("DELETED", "gone"), 30)
    assert store.get(PDB, namespace, "gone") is None
    assert store.get(PDB, namespace, "kept") is not None
    # and it watches again from the new list
    cluster.kubectl_apply(pdb(namespace, "later"))
    wait_until("an object made after the relist arrives", lambda: sink.saw("ADDED", "later"), 30)


def test_a_write_newer_than_the_list_is_not_taken_for_a_deletion() -> None:
    store = Store((CONFIG_MAP,))
    meta = {"name": "fresh", "namespace": "ns", "labels": {keys.LABEL_NAME: "web"}, "resourceVersion": "120"}
    store.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
    assert store.absent(CONFIG_MAP, "ns", set(), "100") == []  # written at 120, after a list at 100
    assert store.absent(CONFIG_MAP, "ns", set(), "150") == [("ns", "fresh")]
    assert store.absent(CONFIG_MAP, "other", set(), "150") == []
    assert store.absent(CONFIG_MAP, None, {("ns", "fresh")}, "150") == []


def crd(group: str) -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def test_a_kind_whose_crd_comes_later_is_listed_once_announced_and_dropped_with_it(
    cluster: Cluster, namespace: str, api: KubeApi, running: list[Informer]
) -> None:
    group = f"i{uuid.uuid4().hex[:8]}.example.com"
    widget = Kind(f"{group}/v1", "Widget", "widgets")
    store = Store((widget,))
    sink = Recorder(store)
    informer = Informer(api, store, widget, namespace, sink, selector=keys.LABEL_NAME)
    informer.prime()
    assert informer.served is False and informer.version is None
    informer.start()
    running.append(informer)
    cluster.kubectl_apply(json.dumps(crd(group)))
    try:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=60s")
        body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": namespace}}
        body["metadata"]["labels"] = {keys.LABEL_NAME: "web"}  # type: ignore[index]
        cluster.kubectl_apply(json.dumps(body))
        assert not sink.saw(None, "w") and not sink.saw("ADDED", "w")  # waiting: nothing asks before it is told
        informer.kick()  # what the operator's CRD watch does (Controller.crd_changed)
        wait_until("the new kind is listed", lambda: sink.saw(None, "w") or sink.saw("ADDED", "w"), 30)
        assert store.get(widget, namespace, "w") is not None
        cluster.kubectl("label", "widget", "w", "-n", namespace, "extra=1")
        wait_until("and watched", lambda: sink.saw("MODIFIED", "w"), 30)
        cluster.kubectl("delete", "crd", f"widgets.{group}")  # its objects go with it
        wait_until("the kind's objects are dropped", lambda: store.get(widget, namespace, "w") is None, 60)
        assert sink.saw("DELETED", "w")
    finally:
        cluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_a_kind_it_may_not_list_is_left_to_reads_from_the_api_server(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = identity(cluster, "informer-no-configmaps", [], tmp_path)
    store = Store((CONFIG_MAP,))
    informer = Informer(KubeApi(load_client(str(kubeconfig))), store, CONFIG_MAP, namespace, Recorder(store))
    informer.prime()
    assert not store.holds(CONFIG_MAP)
    informer.start()  # nothing to watch
    assert informer._thread is None
