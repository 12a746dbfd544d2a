"""The pre-deploy Jobs of a rollout (spec.rollout.preDeploy), as the cluster has them: the Job of the attempt in
status while its outcome is not recorded, and its creation once the attempt is decided. The gate itself (when a
Job runs, what its outcome does) is pure: rollout.predeploy."""

from __future__ import annotations

from dataclasses import replace

from ..api.kinds import JOB, POD
from ..api.models import AsgiServiceSpec, RolloutStatus
from ..kube.api import ApiError, KubeApi
from ..reconcile.observe import job_run, termination_message
from ..render.meta import Owner
from ..render.migration import pre_deploy_job
from ..rollout.state import JobRun
from .children import ChildWriter
from .store import Reads


class PreDeployJobs:
    def __init__(self, api: KubeApi, reads: Reads) -> None:
        self.api, self.reads = api, reads

    def observe(self, owner: Owner, rollout: RolloutStatus) -> JobRun | None:
        """The Job of the pre-deploy attempt in status, while its outcome is not recorded yet."""
        attempt = rollout.pre_deploy
        if attempt is None or attempt.phase not in ("Pending", "Running"):
            return None
        run = job_run(self.reads.get(JOB, owner.namespace, attempt.job))
        if run is None or not run.failed:
            return run
        # failed, seen for the first time: its pods' termination message holds the tail of its log (read fresh,
        # once: the pods are no child the operator watches)
        try:
            pods = list(self.api.list(POD, owner.namespace, f"batch.kubernetes.io/job-name={attempt.job}"))
            tail = termination_message(pods)
        except ApiError as e:
            tail = f"(its pods could not be read: {e.reason})"
        return replace(run, log_tail=tail)

    def start(
        self, writer: ChildWriter, owner: Owner, spec: AsgiServiceSpec, rollout: RolloutStatus, revision: str
    ) -> None:
        """Create the Job of a pre-deploy attempt once it is decided (and written to status): under its
        deterministic name, only if it does not exist, so a restart never makes a second one."""
        attempt, hook = rollout.pre_deploy, spec.rollout.pre_deploy
        if attempt is None or hook is None or attempt.phase != "Pending" or attempt.revision != revision:
            return
        writer.create_once(JOB, pre_deploy_job(owner, spec, hook, attempt.job))
