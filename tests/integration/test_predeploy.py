"""The pre-deploy Job (rollout.preDeploy) against the real API server, the real Job controller and kwok pods:
no pod of a revision before its Job completed, a failure stops the rollout with the Job's reason and log tail,
retry runs a new attempt, and SIGKILLs of the operator never make two Jobs for one revision.

kwok's pod-complete stage makes a Job's pods Succeed; the lab's own stage (tests/lab/stages) makes those whose
template carries `lab.asgi.dev/exit-code` fail with that code and `lab.asgi.dev/log` as termination message."""

from __future__ import annotations

import json
import random
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integration.helpers import apply, condition, events_for, example, get, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster

pytestmark = pytest.mark.usefixtures("fake_nodes")

MIGRATE = ["alembic", "upgrade", "head"]


def hooked(strategy: str = "Canary") -> dict[str, Any]:
    doc = example("hello.yaml")
    doc["spec"].pop("expose")  # the replica-ratio router: the canary's weight is its pods
    doc["spec"]["rollout"] = {"strategy": strategy, "preDeploy": {"command": MIGRATE}}
    return doc


def jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "jobs", "-n", namespace, "-l", "asgi.dev/name=hello", "-o", "json").stdout
    return list(json.loads(out)["items"])


def pods_of(cluster: Cluster, namespace: str, revision: str) -> list[dict[str, Any]]:
    selector = f"asgi.dev/name=hello,asgi.dev/revision={revision}"
    return list(
        json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]
    )


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def completed_job(cluster: Cluster, namespace: str, revision: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        for job in jobs(cluster, namespace):
            if job["metadata"]["labels"].get("asgi.dev/revision") == revision and condition(job, "Complete"):
                return job
        return None

    return wait_until(f"the pre-deploy Job of {revision} complete", done, 60)  # type: ignore[no-any-return]


def test_no_pod_of_a_revision_starts_before_its_job_completed(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    doc = hooked()
    apply(cluster, namespace, doc)
    first = wait_ready(cluster, namespace, "hello")["status"]
    job = completed_job(cluster, namespace, first["revision"])
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == MIGRATE and container["image"] == doc["spec"]["image"]
    deployment = must_get(cluster, "deployment", "hello", namespace)
    assert container["env"] == deployment["spec"]["template"]["spec"]["containers"][0]["env"]  # the app's own
    assert {"name": "APP_VERSION", "value": "v1"} in container["env"]
    # the first deploy: the Deployment itself was created after the Job completed
    assert stamp(deployment["metadata"]["creationTimestamp"]) >= stamp(job["status"]["completionTime"])
    assert first["rollout"]["preDeploy"]["phase"] == "Succeeded"

    doc["spec"]["image"] = "registry.example.com/hello:1.1.0"
    apply(cluster, namespace, doc)

    def canary_pods() -> list[dict[str, Any]] | None:
        obj = must_get(cluster, "asgiservice", "hello", namespace)
        revision = obj["status"].get("revision")
        if revision == first["revision"]:
            return None
        pods = pods_of(cluster, namespace, revision)
        return pods or None

    pods = wait_until("the canary's first pod", canary_pods, 90)
    revision = pods[0]["metadata"]["labels"]["asgi.dev/revision"]
    job = completed_job(cluster, namespace, revision)
    finished = stamp(job["status"]["completionTime"])
    assert all(stamp(p["metadata"]["creationTimestamp"]) >= finished for p in pods)
    assert [j["metadata"]["labels"]["asgi.dev/revision"] for j in jobs(cluster, namespace)].count(revision) == 1
    reasons = [e["reason"] for e in events_for(cluster, namespace, "hello")]
    assert reasons.count("PreDeployStarted") == 2 and reasons.count("PreDeploySucceeded") == 2


def test_a_failing_job_stops_the_rollout_with_its_reason_and_log_and_retry_runs_it_again(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    doc = hooked()
    apply(cluster, namespace, doc)
    stable = wait_ready(cluster, namespace, "hello")["status"]["revision"]

    doc["spec"]["image"] = "registry.example.com/hello:2.0.0"
    doc["spec"]["podAnnotations"] = {
        "lab.asgi.dev/exit-code": "3",
        "lab.asgi.dev/log": "alembic.util.exc.CommandError: Can't locate revision identified by 'f00d'",
    }
    apply(cluster, namespace, doc)

    def failed() -> dict[str, Any] | None:
        obj = get(cluster, "asgiservice", "hello", namespace)
        rollout = (obj or {}).get("status", {}).get("rollout", {})
        # the conditions too, not only the position (written first, on its own)
        told = condition(obj, "Ready").get("reason") == "PreDeployFailed"
        return obj if rollout.get("reason") == "PreDeployFailed" and told else None

    obj = wait_until("the rollout failed by its pre-deploy Job", failed, 90)
    rollout = obj["status"]["rollout"]
    assert rollout["phase"] == "Failed"
    message = rollout["message"]
    assert "BackoffLimitExceeded" in message and "Can't locate revision" in message and "exit code 3" in message
    assert "kubectl logs job/" in message
    ready = condition(obj, "Ready")
    assert ready["status"] == "False" and "Can't locate revision" in ready["message"]
    warnings = [e for e in events_for(cluster, namespace, "hello") if e["reason"] == "PreDeployFailed"]
    assert warnings and warnings[0]["type"] == "Warning" and "Can't locate revision" in warnings[0]["message"]
    assert warnings[0]["message"].endswith("`kubectl asgi retry` runs it again"), warnings[0]["message"]  # no
    # "traffic is back on stable": the canary never had any
    failed_revision = rollout["failedRevision"]
    assert pods_of(cluster, namespace, failed_revision) == []  # not one pod of the failed revision
    assert obj["status"]["stableRevision"] == stable

    # retry: a second attempt, a second Job (it fails again: the annotation is part of the revision)
    cluster.kubectl("annotate", "asgiservice", "hello", "-n", namespace, "--overwrite", "asgi.dev/request=retry/1")
    wait_until(
        "a second attempt",
        lambda: (
            (get(cluster, "asgiservice", "hello", namespace) or {})["status"]["rollout"]
            .get("preDeploy", {})
            .get("attempt")
            == 2
        ),
        60,
    )
    names = sorted(j["metadata"]["name"] for j in jobs(cluster, namespace))
    assert [n for n in names if failed_revision in n] == [
        f"hello-pre-{failed_revision}-1",
        f"hello-pre-{failed_revision}-2",
    ]


def test_sigkills_of_the_operator_never_make_two_jobs_for_one_revision(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path
) -> None:
    doc = hooked("RollingUpdate")
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    rng = random.Random(11)
    revisions = []
    try:
        apply(cluster, namespace, doc)
        revisions.append(wait_ready(cluster, namespace, "hello")["status"]["revision"])
        for i in range(5):
            doc["spec"]["image"] = f"registry.example.com/hello:3.{i}.0"
            apply(cluster, namespace, doc)
            # the fault: a kill at a random moment of the pass (deciding the attempt, writing it, creating the
            # Job, seeing its outcome); not a wait for anything
            time.sleep(rng.uniform(0.0, 1.5))
            op.kill(signal.SIGKILL)
            op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
            revisions.append(wait_ready(cluster, namespace, "hello", timeout=90)["status"]["revision"])
    finally:
        op.stop()
    per_revision: dict[str, int] = {}
    for job in jobs(cluster, namespace):
        rev = job["metadata"]["labels"]["asgi.dev/revision"]
        per_revision[rev] = per_revision.get(rev, 0) + 1
    assert per_revision == dict.fromkeys(revisions, 1)
