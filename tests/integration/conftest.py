"""Integration tests run against a REAL API server: the lab (default), or any cluster whose kubeconfig is in
ASGI_TEST_KUBECONFIG (for example a kind cluster on a machine with Docker). Nothing here is mocked."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster import Cluster, ExistingCluster, Lab, ensure_binaries


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    given = os.environ.get("ASGI_TEST_KUBECONFIG")
    if given:
        existing = ExistingCluster(Path(given).expanduser())
        existing.install_crds()
        yield existing
        return
    lab = Lab(bin_dir=ensure_binaries())
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl_apply(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
