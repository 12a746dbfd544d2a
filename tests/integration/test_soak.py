"""Drill 5 of issue 14: the soak. Short in CI (a normal integration test); long with `make soak`, which sets
ASGI_SOAK_ROLLOUTS=20, ASGI_SOAK_KILLS=3 and ASGI_SOAK_EXAMPLES=5000.

- SIGKILLs: rollouts one after the other, good and bad releases in turn, the operator SIGKILLed at random
  (seeded) points of each and started again. Every outcome is the one of an undisturbed run: a good release
  promoted, a bad one rolled back, each with exactly the events of an undisturbed rollout (none duplicated,
  none skipped).
- Specs: random VALID AsgiServiceSpecs (test_render_accepted's hypothesis strategy over the models), each and
  every child the operator renders for it mid-canary sent to the real API server with server-side dry-run
  (dryRun=All, through the operator's own kube.api): all accepted. A rejection is a bug (the renderer writes
  something the API refuses, or the schema lets through a spec the operator cannot run).
"""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_operator.api.kinds import ASGI_SERVICE
from asgi_operator.api.models import AsgiService, AsgiServiceSpec
from asgi_operator.kube.api import ApiError, KubeApi, load_client
from asgi_operator.reconcile.desired import desired_children
from asgi_operator.render.children import CanaryPlan
from asgi_operator.render.meta import Owner
from asgi_operator.routers import kind_of
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import PROMOTED, Rig, reasons, rig, spec  # noqa: F401 (rig: a fixture)
from integration.test_render_accepted import NAME as NAMES
from integration.test_render_accepted import OWNER_UID, VALID_SPECS, asgi_service
from lab.cluster import Cluster

ROLLOUTS = int(os.environ.get("ASGI_SOAK_ROLLOUTS", "2"))
KILLS = int(os.environ.get("ASGI_SOAK_KILLS", "2"))
EXAMPLES = int(os.environ.get("ASGI_SOAK_EXAMPLES", "100"))
SEED = int(os.environ.get("ASGI_SOAK_SEED", "20261124"))
ROLLED_BACK = ["RolloutStarted", "StepStarted", "AnalysisFailed", "SLOViolated"]


def test_sigkills_at_random_points_change_no_outcome(rig: Rig) -> None:  # noqa: F811 (the imported fixture)
    rng = random.Random(SEED)
    outcomes: list[str] = []
    for n in range(ROLLOUTS):
        good = n % 2 == 0
        before = len(rig.rollout_events())
        rollout_id = int(rig.rollout().get("id", 0)) + 1
        extra = {} if good else {"ERROR_RATE": "0.05"}
        # a good rollout takes about 30 s here, a bad one about 12 s: the kills land anywhere in them
        points = sorted(rng.uniform(0.5, 25.0 if good else 12.0) for _ in range(KILLS))
        started = time.monotonic()
        rig.apply(spec(rig.prometheus.url, f"v{n + 2}", **extra))
        for at in points:
            # a random point of the rollout: the kill is the action under test
            time.sleep(max(0.0, started + at - time.monotonic()))
            rig.operator.kill(signal.SIGKILL)
            rig.operator = OperatorProcess(rig.kubeconfig, "-n", rig.namespace).start()
        if good:
            rig.wait_promoted(f"rollout {rollout_id} promoted", 180)
        else:
            rig.wait_rollout(
                f"rollout {rollout_id} rolled back",
                lambda r, i=rollout_id: r.get("id") == i and r.get("phase") == "RolledBack",
                180,
            )
        events = reasons(rig.rollout_events()[before:])
        r = rig.rollout()
        outcomes.append(
            f"{n + 1}: {'good' if good else 'bad'} {r['phase']} in {time.monotonic() - started:.0f}s, kills at "
            f"{', '.join(f'{p:.1f}s' for p in points)}"
        )
        assert r["id"] == rollout_id
        assert events == (PROMOTED if good else ROLLED_BACK), (outcomes[-1], events)
    print("drill 5 (SIGKILL soak):\n  " + "\n  ".join(outcomes))


def test_random_valid_specs_and_all_their_children_pass_a_dry_run(cluster: Cluster, namespace: str) -> None:
    api = KubeApi(load_client(str(cluster.admin_kubeconfig)))
    counts = {"examples": 0, "objects": 0}
    started = time.monotonic()

    def dry_run(manifest: dict[str, Any]) -> dict[str, Any]:
        kind = ASGI_SERVICE if manifest["kind"] == ASGI_SERVICE.kind else kind_of(manifest)
        try:
            return api.apply(kind, manifest, dry_run=True)
        except ApiError as e:
            raise AssertionError(f"the API server refused {manifest['kind']}: {e.message}\n{manifest}") from None

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same examples at every run: a rejection found once is found again
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(name=NAMES, body=VALID_SPECS, canary=st.tuples(st.none() | st.integers(0, 3), st.integers(0, 100)))
    def check(name: str, body: dict[str, Any], canary: tuple[int | None, int]) -> None:
        counts["examples"] += 1
        spec = AsgiServiceSpec.model_validate(body)
        stored = dry_run(asgi_service(name, namespace, body))
        assert AsgiService.model_validate(stored).spec == spec
        plan = CanaryPlan(spec, canary[0]) if canary[0] is not None else None
        for child in desired_children(Owner(name, namespace, OWNER_UID), spec, canary=plan, weight=canary[1]).apply:
            dry_run(child)
            counts["objects"] += 1

    check()
    took = time.monotonic() - started
    print(
        f"drill 5 (specs): {counts['examples']} valid specs, {counts['objects']} children, all accepted by the API "
        f"server's dry-run in {took:.0f}s"
    )
    assert counts["examples"] >= EXAMPLES * 0.9  # hypothesis ran (almost) all it was asked to


def test_an_apply_with_characters_beyond_u_ffff_is_accepted(cluster: Cluster, namespace: str) -> None:
    """Found by the spec soak: a pod annotation (or env value) with an emoji; the API server's apply (YAML)
    decoder refused the surrogate-pair escapes the kubernetes client's JSON encoder writes."""
    from asgi_operator.api.kinds import CONFIG_MAP

    api = KubeApi(load_client(str(cluster.admin_kubeconfig)))
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "emoji", "namespace": namespace, "annotations": {"note": "ship it \U0001f680"}},
        "data": {"text": "\U00010000 \u00e9"},
    }
    assert api.apply(CONFIG_MAP, manifest, dry_run=True)["data"] == manifest["data"]
    stored = api.apply(CONFIG_MAP, manifest)
    assert stored["metadata"]["annotations"]["note"] == "ship it \U0001f680"
