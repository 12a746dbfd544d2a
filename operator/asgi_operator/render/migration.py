"""The pre-deploy Job (spec.rollout.preDeploy): the revision's own pod, running the hook's command once.

Same image, env, envFrom, volume mounts and resources as the app container, same pod (service account, volumes,
init containers and sidecars, scheduling, security context), so the command sees exactly what the revision's
pods will see. What differs: the command; no ports, probes or preStop; the log's tail kept as the termination
message on failure (FallbackToLogsOnError), which is how the operator reports it without reading logs; and the
pod labels: the operator's selector label is replaced, so that no Service, PDB or PodMonitor selects it.
"""

from __future__ import annotations

import copy
import math
from typing import Final

from ..api import keys
from ..api.durations import seconds
from ..api.hooks import PreDeploySpec
from ..api.models import AsgiServiceSpec
from .meta import Manifest, Owner, metadata
from .workload import CONTAINER_NAME, pod_template

JOB_CONTAINER: Final = "pre-deploy"
_NOT_IN_A_JOB: Final = ("ports", "readinessProbe", "livenessProbe", "startupProbe", "lifecycle")
_SCRAPE_ANNOTATIONS: Final = ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path")


def pre_deploy_job(owner: Owner, spec: AsgiServiceSpec, hook: PreDeploySpec, name: str) -> Manifest:
    template, revision = pod_template(owner, spec)
    pod = copy.deepcopy(template)
    labels = {k: v for k, v in pod["metadata"]["labels"].items() if k not in (keys.LABEL_NAME, keys.LABEL_REVISION)}
    pod["metadata"]["labels"] = {**labels, keys.LABEL_PRE_DEPLOY: owner.name, keys.LABEL_REVISION: revision}
    annotations = {k: v for k, v in pod["metadata"].get("annotations", {}).items() if k not in _SCRAPE_ANNOTATIONS}
    if annotations:
        pod["metadata"]["annotations"] = annotations
    else:
        pod["metadata"].pop("annotations", None)
    pod_spec = pod["spec"]
    containers = []
    for container in pod_spec["containers"]:
        if container["name"] != CONTAINER_NAME:
            continue
        job_container = {k: v for k, v in container.items() if k not in _NOT_IN_A_JOB}
        job_container.update(
            name=JOB_CONTAINER, command=list(hook.command), terminationMessagePolicy="FallbackToLogsOnError"
        )
        containers.append(job_container)
    pod_spec["containers"] = containers
    pod_spec["restartPolicy"] = "Never"
    meta = metadata(owner, name)
    meta["labels"][keys.LABEL_REVISION] = revision
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": hook.backoff_limit,
            "activeDeadlineSeconds": math.ceil(seconds(hook.timeout)),
            "ttlSecondsAfterFinished": math.ceil(seconds(hook.ttl_after_finished)),
            "template": pod,
        },
    }
