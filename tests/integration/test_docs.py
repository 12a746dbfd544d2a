"""Every example in the docs works: each AsgiService in a ```yaml block is valid for the models and the real API
server, other Kubernetes objects pass a server-side dry run when their API is served, and every PromQL
expression of the alert rules and the Grafana dashboard parses in a real Prometheus."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from asgi_operator.api.models import AsgiService
from lab.cluster import REPO, Cluster
from lab.traffic import Prometheus

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def yaml_docs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in DOCS:
        for i, block in enumerate(BLOCK.findall(path.read_text())):
            for doc in yaml.safe_load_all(block):
                if isinstance(doc, dict) and "kind" in doc:
                    out.append((f"{path.name}#{i}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return out


EXAMPLES = yaml_docs()
ASGI = [(name, doc) for name, doc in EXAMPLES if doc["kind"] == "AsgiService"]


def test_the_docs_have_examples() -> None:
    assert len(ASGI) >= 6


@pytest.mark.parametrize(("name", "doc"), ASGI, ids=[n for n, _ in ASGI])
def test_asgiservice_examples_are_valid(cluster: Cluster, namespace: str, name: str, doc: dict[str, Any]) -> None:
    AsgiService.model_validate(doc)
    cluster.kubectl("apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-", stdin=json.dumps(doc))


OTHERS = [(n, d) for n, d in EXAMPLES if d["kind"] != "AsgiService"]


@pytest.mark.parametrize(("name", "doc"), OTHERS, ids=[n for n, _ in OTHERS])
def test_other_examples_pass_a_dry_run_where_served(
    cluster: Cluster, namespace: str, name: str, doc: dict[str, Any]
) -> None:
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    served = cluster.kubectl("api-resources", f"--api-group={group}", "-o", "name").stdout
    if doc["kind"].lower() + "s" not in served:
        pytest.skip(f"{doc['apiVersion']} {doc['kind']} is not served in this cluster")
    body = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
    cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=json.dumps(body))


@pytest.fixture(scope="module")
def prometheus(cluster: Cluster) -> Iterator[Prometheus]:
    prom = Prometheus(cluster.bin_dir).start()
    yield prom
    prom.close()


def expressions() -> list[tuple[str, str]]:
    alerts = yaml.safe_load((REPO / "docs/alerts.yaml").read_text())
    out = [(r["alert"], r["expr"]) for g in alerts["spec"]["groups"] for r in g["rules"]]
    dashboard = json.loads((REPO / "docs/grafana-dashboard.json").read_text())
    out += [
        (f"{p['title']}/{t['refId']}", t["expr"].replace("$__rate_interval", "1m"))
        for p in dashboard["panels"]
        for t in p["targets"]
    ]
    return out


@pytest.mark.parametrize(("name", "expr"), expressions(), ids=[n for n, _ in expressions()])
def test_promql_in_alerts_and_dashboard_parses(prometheus: Prometheus, name: str, expr: str) -> None:
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert json.loads(resp.read())["status"] == "success"
    except urllib.error.HTTPError as e:
        pytest.fail(f"{name}: {e.read().decode()}")


def test_every_operator_metric_in_the_docs_exists() -> None:
    from asgi_operator.controller import telemetry

    documented = set(re.findall(r"`(asgi_operator_[a-z_]+)`", (REPO / "docs/operator-metrics.md").read_text()))
    defined = {
        m._name + ("_total" if m._type == "counter" else "")
        for m in vars(telemetry).values()
        if hasattr(m, "_type") and hasattr(m, "_name")
    } | {family.name for family in telemetry.StoreCollector(lambda: (0, 0)).collect()}
    assert documented == defined
    used = {m for _, e in expressions() for m in re.findall(r"asgi_operator_[a-z_]+?(?=_bucket|\b)", e)}
    assert used <= defined
