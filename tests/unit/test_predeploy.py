"""The pre-deploy gate (rollout.preDeploy) inside the canary machine and the RollingUpdate strategy: no pod of a
revision before its Job succeeded, one Job per revision and attempt, failure stops the rollout, retry reruns."""

from __future__ import annotations

from datetime import timedelta

from test_machine import RULES, SPEC_V1, SPEC_V2, SPEC_V3, T0, World, serving

from asgi_operator.api.models import AsgiServiceSpec, RolloutSpec, RolloutStatus
from asgi_operator.render.meta import Owner
from asgi_operator.render.migration import pre_deploy_job
from asgi_operator.render.workload import pod_template
from asgi_operator.rollout.predeploy import job_name
from asgi_operator.rollout.state import JobRun, Observation
from asgi_operator.rollout.strategy import rolling_update

HOOKED = RULES.model_copy(
    update={
        "pre_deploy": RolloutSpec.model_validate({"preDeploy": {"command": ["alembic", "upgrade", "head"]}}).pre_deploy
    }
)


def hooked_world() -> World:
    w = World(rules=HOOKED)
    d = w.step("v1", SPEC_V1)  # the first deploy runs the Job too
    assert d.hold_workload and w.status.pre_deploy is not None
    w.job = JobRun(w.status.pre_deploy.job, succeeded=True)
    d = w.step("v1", SPEC_V1)
    assert (d.rollout.phase, d.rollout.stable_revision, d.hold_workload) == ("Idle", "v1", False)
    w.stable, w.job = serving("v1", 4), None
    return w


def test_the_first_deploy_holds_every_pod_until_its_job_succeeded() -> None:
    w = World(rules=HOOKED)
    d = w.step("v1", SPEC_V1)
    attempt = d.rollout.pre_deploy
    assert attempt is not None and (attempt.revision, attempt.attempt, attempt.phase) == ("v1", 1, "Pending")
    assert attempt.job == "shop-pre-v1-1"
    assert d.hold_workload and d.rollout.stable_revision is None
    assert w.reasons() == ["PreDeployStarted"]
    w.job = JobRun("shop-pre-v1-1")  # created, running
    d = w.step("v1", SPEC_V1)
    assert d.hold_workload and d.rollout.pre_deploy is not None and d.rollout.pre_deploy.phase == "Running"
    assert d.rollout.reason == "PreDeployRunning"
    w.job = JobRun("shop-pre-v1-1", succeeded=True)
    d = w.step("v1", SPEC_V1)
    assert not d.hold_workload and d.rollout.stable_revision == "v1"
    assert w.reasons() == ["PreDeployStarted", "PreDeploySucceeded", "Deployed"]


def test_a_canary_gets_no_pod_and_no_traffic_before_its_job_succeeded() -> None:
    w = hooked_world()
    d = w.step("v2", SPEC_V2)
    assert (d.rollout.phase, d.canary_replicas, d.canary_weight) == ("Progressing", 0, 0)
    job = d.rollout.pre_deploy.job if d.rollout.pre_deploy else ""
    assert job == "shop-pre-v2-1"
    w.job = JobRun(job)
    w.later(600)  # a long migration does not eat the step's progress deadline (5m)
    d = w.step("v2", SPEC_V2)
    assert (d.rollout.phase, d.canary_replicas) == ("Progressing", 0)
    w.job = JobRun(job, succeeded=True)
    d = w.step("v2", SPEC_V2)
    assert d.canary_replicas == 1 and d.rollout.step_started_at is not None
    assert d.rollout.phase == "Progressing"
    w.canary = serving("v2", 1)
    d = w.step("v2", SPEC_V2)
    assert d.canary_weight == 10


def test_a_failed_job_stops_the_rollout_with_its_reason_and_retry_runs_a_new_attempt() -> None:
    w = hooked_world()
    w.step("v2", SPEC_V2)
    w.job = JobRun(
        "shop-pre-v2-1",
        failed=True,
        reason="BackoffLimitExceeded",
        message="Job has reached the specified backoff limit",
        log_tail="pre-deploy: exit code 3: sqlalchemy.exc.OperationalError: no such table",
    )
    d = w.step("v2", SPEC_V2)
    assert (d.rollout.phase, d.rollout.reason, d.canary_replicas) == ("Failed", "PreDeployFailed", 0)
    assert "BackoffLimitExceeded" in d.rollout.message and "no such table" in d.rollout.message
    assert "kubectl logs job/shop-pre-v2-1" in d.rollout.message
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.phase == "Failed"
    # held: no new Job, no canary pod, however often it is reconciled
    for _ in range(3):
        w.later(60)
        d = w.step("v2", SPEC_V2)
        assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.attempt == 1 and d.canary_replicas == 0
    w.request = "retry/1"
    d = w.step("v2", SPEC_V2)
    assert d.rollout.pre_deploy is not None and (d.rollout.pre_deploy.attempt, d.rollout.pre_deploy.phase) == (
        2,
        "Pending",
    )
    assert d.rollout.pre_deploy.job == "shop-pre-v2-2" and d.rollout.phase == "Progressing"
    w.job = JobRun("shop-pre-v2-2", succeeded=True)
    assert w.step("v2", SPEC_V2).canary_replicas == 1


def test_a_failed_job_says_only_what_happened_traffic_never_left_stable() -> None:
    """The canary had no pod and no traffic: its failure event does not claim traffic went back to stable."""
    w = hooked_world()
    w.step("v2", SPEC_V2)
    w.job = JobRun("shop-pre-v2-1", failed=True, reason="BackoffLimitExceeded", log_tail="no such table")
    d = w.step("v2", SPEC_V2)
    assert d.rollout.reason == "PreDeployFailed" and d.canary_weight == 0
    [message] = [m for r, m in w.events if r == "PreDeployFailed"]
    assert "Job shop-pre-v2-1 failed: BackoffLimitExceeded" in message
    assert "traffic" not in message and "back on stable" not in message, message


def test_a_job_deleted_before_its_outcome_was_seen_fails_the_attempt_instead_of_running_it_again() -> None:
    w = hooked_world()
    w.step("v2", SPEC_V2)
    w.job = JobRun("shop-pre-v2-1")
    w.step("v2", SPEC_V2)  # seen running
    w.job = None
    d = w.step("v2", SPEC_V2)
    assert d.rollout.phase == "Failed" and "deleted before its outcome was seen" in d.rollout.message
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.attempt == 1


def test_a_succeeded_job_is_not_run_again_by_a_retry_after_an_slo_failure() -> None:
    w = hooked_world()
    w.step("v2", SPEC_V2)
    w.job = JobRun("shop-pre-v2-1", succeeded=True)
    w.step("v2", SPEC_V2)
    w.request = "abort/1"
    assert w.step("v2", SPEC_V2).rollout.phase == "RolledBack"
    w.request = "retry/2"
    d = w.step("v2", SPEC_V2)
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.attempt == 1
    assert d.canary_replicas == 1  # straight to the canary's pods


def test_a_new_revision_gets_its_own_job() -> None:
    w = hooked_world()
    w.step("v2", SPEC_V2)
    d = w.step("v3", SPEC_V3)
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.job == "shop-pre-v3-1"


def test_a_superseded_revisions_running_job_is_waited_for_never_run_beside_the_new_one() -> None:
    w = hooked_world()
    w.step("v2", SPEC_V2)
    w.job = JobRun("shop-pre-v2-1")
    w.step("v2", SPEC_V2)  # v2's migration runs ...
    d = w.step("v3", SPEC_V3)  # ... when v3 arrives
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.job == "shop-pre-v2-1"
    assert "superseded" in d.rollout.message and d.canary_replicas == 0
    w.job = JobRun("shop-pre-v2-1", succeeded=True)
    d = w.step("v3", SPEC_V3)
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.job == "shop-pre-v3-1"


def test_rolling_update_keeps_the_old_pods_until_the_job_succeeded() -> None:
    rules = HOOKED.model_copy(update={"strategy": "RollingUpdate"})
    status = RolloutStatus(stable_revision="v1", stable_spec=SPEC_V1)
    obs = Observation(
        now=T0, revision="v2", spec=SPEC_V2, stable=serving("v1", 2), canary=None, default_replicas=2, name="shop"
    )
    d = rolling_update(rules, status, obs)
    assert d.stable_template_spec == SPEC_V1 and d.rollout.stable_revision == "v1"
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.job == "shop-pre-v2-1"
    failed = JobRun("shop-pre-v2-1", failed=True, reason="DeadlineExceeded")
    d = rolling_update(rules, d.rollout, Observation(**{**obs.__dict__, "pre_deploy": failed}))
    assert (d.rollout.phase, d.rollout.reason, d.stable_template_spec) == ("Failed", "PreDeployFailed", SPEC_V1)
    retry = {**obs.__dict__, "request": "retry/x", "now": T0 + timedelta(minutes=1)}
    d = rolling_update(rules, d.rollout, Observation(**retry))
    assert d.rollout.pre_deploy is not None and d.rollout.pre_deploy.attempt == 2
    done = {**retry, "pre_deploy": JobRun("shop-pre-v2-2", succeeded=True)}
    d = rolling_update(rules, d.rollout, Observation(**done))
    assert (d.rollout.stable_revision, d.stable_template_spec, d.rollout.phase) == ("v2", SPEC_V2, "Idle")


def test_job_names_are_dns_labels_and_distinct_per_revision_and_attempt() -> None:
    long = "a" * 56
    names = {job_name(long, rev, attempt) for rev in ("0123456789", "abcdef0123") for attempt in (1, 2, 10)}
    assert len(names) == 6 and all(len(n) <= 63 and not n.startswith("-") for n in names)


def test_the_job_runs_the_revisions_own_pod_with_the_hook_command_and_is_selected_by_nothing() -> None:
    spec = AsgiServiceSpec.model_validate(
        {
            "image": "shop:2",
            "app": "main:app",
            "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}],
            "serviceAccountName": "shop",
            "rollout": {"preDeploy": {"command": ["alembic", "upgrade", "head"], "timeout": "5m"}},
        }
    )
    owner = Owner("shop", "prod", "uid-1")
    assert spec.rollout.pre_deploy is not None
    job = pre_deploy_job(owner, spec, spec.rollout.pre_deploy, "shop-pre-x-1")
    template, revision = pod_template(owner, spec)
    pod = job["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["alembic", "upgrade", "head"]
    assert container["image"] == "shop:2" and container["env"] == template["spec"]["containers"][0]["env"]
    assert "readinessProbe" not in container and "ports" not in container and "lifecycle" not in container
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["spec"]["serviceAccountName"] == "shop" and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"] == template["spec"]["securityContext"]
    assert "asgi.dev/name" not in pod["metadata"]["labels"]  # no Service, PDB or PodMonitor selects it
    assert pod["metadata"]["labels"]["asgi.dev/revision"] == revision
    assert "prometheus.io/scrape" not in pod["metadata"].get("annotations", {})
    assert job["spec"]["activeDeadlineSeconds"] == 300 and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job["metadata"]["labels"]["asgi.dev/name"] == "shop"  # the operator's watch finds it
