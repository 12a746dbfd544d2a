"""The operator's memory of the cluster: what is kept, what wakes an AsgiService, and what a stale event cannot
undo. (The store is fed by real watches in the integration tests; here its rules, on recorded objects.)"""

from __future__ import annotations

import copy
from typing import Any

from asgi_operator.api.kinds import ASGI_SERVICE, DEPLOYMENT, HTTP_ROUTE, SERVICE
from asgi_operator.controller.store import Store, Wake
from asgi_operator.reconcile.observe import trimmed


def deployment(rv: str = "10", **status: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u1",
            "resourceVersion": rv,
            "generation": 2,
            "labels": {"asgi.dev/name": "web"},
            "managedFields": [
                {
                    "manager": "asgi-operator",
                    "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:x": {}}}},
                },
                {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:status": {}}},
            ],
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "i:1"}]}}},
        "status": {
            "observedGeneration": 2,
            "replicas": 2,
            "readyReplicas": 2,
            "conditions": [{"type": "Available"}],
            **status,
        },
    }


def test_a_reconcile_reads_back_what_it_needs_and_nothing_more() -> None:
    store = Store((DEPLOYMENT, SERVICE))
    assert store.put(deployment()) == Wake("web")
    got = store.get(DEPLOYMENT, "shop", "web")
    assert got is not None
    assert got["spec"] == deployment()["spec"]
    assert got["status"] == {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2}  # no conditions
    # only whether each manager owns spec.replicas survives of managedFields (the HPA hand-over's question)
    assert got["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert got["metadata"]["managedFields"][1]["fieldsV1"] == {}


def test_status_churn_wakes_nothing_and_a_relevant_change_wakes_the_owner() -> None:
    store = Store((DEPLOYMENT,))
    store.put(deployment("10"))
    churn = deployment("11")
    churn["status"]["conditions"] = [{"type": "Progressing", "lastUpdateTime": "t2"}]
    assert store.put(churn) is None  # a condition's timestamp: no decision depends on it
    # a pod became unready: it matters, and such status changes come in series: settle, then one reconcile
    assert store.put(deployment("12", readyReplicas=1)) == Wake("web", settle=True)
    edited = deployment("13", readyReplicas=1)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "i:hacked"
    assert store.put(edited) == Wake("web")  # drift to repair, at once


def test_the_operators_own_status_write_wakes_nothing_but_a_spec_or_annotation_change_does() -> None:
    store = Store(())
    asvc = {
        "apiVersion": "asgi.dev/v1alpha1",
        "kind": "AsgiService",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "5", "generation": 1},
        "spec": {"image": "i:1"},
        "status": {"phase": "Ready"},
    }
    assert store.put(asvc) == Wake("web")
    assert (
        store.put({**asvc, "metadata": {**asvc["metadata"], "resourceVersion": "6"}, "status": {"phase": "Canary"}})
        is None
    )
    got = store.get(ASGI_SERVICE, "shop", "web")
    assert got is not None and got["status"] == {"phase": "Canary"}  # kept, for the next reconcile
    requested = copy.deepcopy(asvc)
    requested["metadata"].update(resourceVersion="7", annotations={"asgi.dev/request": "promote/1"})
    assert store.put(requested) == Wake("web")


def test_a_delayed_older_event_never_replaces_what_the_operator_wrote() -> None:
    store = Store((DEPLOYMENT,))
    store.put(deployment("20", readyReplicas=1))  # the API server's answer to our own write
    assert store.put(deployment("19")) is None  # an event from before it, delivered late
    got = store.get(DEPLOYMENT, "shop", "web")
    assert got is not None and got["metadata"]["resourceVersion"] == "20"


def test_a_child_that_loses_our_label_is_dropped_and_its_owner_woken() -> None:
    store = Store((DEPLOYMENT,))
    store.put(deployment())
    unlabelled = deployment("11")
    unlabelled["metadata"]["labels"] = {}
    assert store.put(unlabelled) == Wake("web")
    assert store.get(DEPLOYMENT, "shop", "web") is None
    assert store.put(unlabelled) is None  # someone else's Deployment: never kept, never wakes anything


def test_deletions_and_kinds_the_store_does_not_keep() -> None:
    store = Store((DEPLOYMENT,))
    store.put(deployment())
    assert store.remove("Deployment", "shop", "web") == "web"
    assert store.remove("Deployment", "shop", "web") is None
    assert not store.holds(HTTP_ROUTE)  # read from the API server instead
    store.unlisted.add((DEPLOYMENT.api_version, DEPLOYMENT.kind))
    assert not store.holds(DEPLOYMENT)  # its LIST was refused: reads go to the API server


def test_the_store_is_much_smaller_than_the_objects() -> None:
    store = Store((DEPLOYMENT,))
    body = deployment()
    body["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"].update({f"f:k{i}": {} for i in range(200)})
    store.put(body)
    objects, size = store.stats()
    assert objects == 1
    assert size < len(str(trimmed("Deployment", body)))


def config_map(text: str, rv: str = "5") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "web-edge",
            "namespace": "shop",
            "uid": "c1",
            "resourceVersion": rv,
            "labels": {"asgi.dev/name": "web"},
        },
        "data": {"asgi_edge.py": text, "short": "kept as it is"},
    }


def test_a_long_configmap_value_is_kept_as_its_digest_and_still_tells_drift_from_no_change() -> None:
    from asgi_operator.api.kinds import CONFIG_MAP
    from asgi_operator.reconcile.observe import folded
    from asgi_operator.render.drift import holds

    source = "".join(f"v{i} = {i * 7919 % 10007}  # {i * 104729 % 65521:x}\n" for i in range(1200))  # ~30 KB
    store = Store((CONFIG_MAP,))
    assert store.put(config_map(source)) == Wake("web")
    _, size = store.stats()
    assert size < 1024  # the digest, not the text (nor its compressed form)
    live = store.get(CONFIG_MAP, "shop", "web-edge")
    assert live is not None
    assert live["data"]["short"] == "kept as it is"
    assert live["data"]["asgi_edge.py"].startswith("sha256:")
    # the reconcile compares the desired ConfigMap in the same form: unchanged holds, an edited text does not
    assert holds(folded("ConfigMap", config_map(source)), live)
    assert not holds(folded("ConfigMap", config_map(source + "# edited\n")), live)
    # an edit by somebody else wakes the owner; the same text at a new resourceVersion does not
    assert store.put(config_map(source + "# edited\n", rv="6")) == Wake("web")
    assert store.put(config_map(source + "# edited\n", rv="7")) is None
