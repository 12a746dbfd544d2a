"""kstatus done right: what Flux's `wait` (kstatus), `kubectl wait` and the printer columns see in every phase,
read from statuses the real machine and status code wrote (recorded_phases), and the CRD details that make the
status a well-typed contract (conditions as a map keyed by type, timestamps as date-time, no scale)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from asgi_operator.api.crd import build_crd
from asgi_operator.api.models import AsgiServiceStatus, RolloutStatus
from asgi_operator.api.vocabulary import EventReason, RolloutPhase, ServicePhase
from asgi_operator.cli.outcome import Exit, exit_code_now, judge
from asgi_operator.reconcile.status import Hold, Problem, compute
from asgi_operator.rollout.state import Workload
from recorded_phases import RULES, record_every_phase

RECORDED = record_every_phase()


def kstatus(obj: dict[str, Any]) -> str:
    """kstatus' rules for a custom resource (sigs.k8s.io/cli-utils pkg/kstatus/status: checkGenericProperties,
    then Current for a kind without built-in rules): what Flux's `wait` and health checks decide on."""
    meta, status = obj["metadata"], obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    if "observedGeneration" in status and status["observedGeneration"] != meta.get("generation"):
        return "InProgress"
    for c in status.get("conditions", []):
        if c["type"] == "Reconciling" and c["status"] == "True":
            return "InProgress"
        if c["type"] == "Stalled" and c["status"] == "True":
            return "Failed"
    return "Current"


def conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in (obj.get("status") or {}).get("conditions", [])}


# name -> (kstatus, Ready, Reconciling, Stalled): what `kubectl wait --for=condition=...` and Flux see.
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    # before the operator's first status write kstatus has nothing to go on (no observedGeneration, no
    # conditions): Current, as for any custom resource. `kubectl wait --for=condition=Ready` does wait.
    "pending": ("Current", "-", "-", "-"),
    "deploying": ("InProgress", "False", "True", "False"),
    "ready": ("Current", "True", "False", "False"),
    "spec-not-observed-yet": ("InProgress", "True", "False", "False"),
    "canary-starting": ("InProgress", "False", "True", "False"),
    "canary": ("InProgress", "False", "True", "False"),
    # the gateway has not accepted the route: held, Reconciling with the gateway's reason, never Stalled
    "route-not-accepted": ("InProgress", "False", "True", "False"),
    "canary-route-not-accepted": ("InProgress", "False", "True", "False"),
    "paused": ("Current", "False", "False", "False"),
    "promoting": ("InProgress", "False", "True", "False"),
    "promoted": ("Current", "True", "False", "False"),
    "error-retrying": ("InProgress", "False", "True", "False"),
    "error-stalled": ("Failed", "False", "False", "True"),
    "rolled-back": ("Failed", "False", "False", "True"),
    "failed": ("Failed", "False", "False", "True"),
}


def test_every_phase_is_recorded() -> None:
    assert set(RECORDED) == set(EXPECTED)
    seen = {(o.get("status") or {}).get("phase", ServicePhase.PENDING) for o in RECORDED.values()}
    assert seen == set(ServicePhase), "a new ServicePhase needs a recorded object (tests/recorded_phases.py)"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kstatus_and_conditions_in_every_phase(name: str) -> None:
    obj = RECORDED[name]
    got = conditions(obj)
    state = (
        kstatus(obj),
        got.get("Ready", ("-",))[0],
        got.get("Reconciling", ("-",))[0],
        got.get("Stalled", ("-",))[0],
    )
    assert state == EXPECTED[name]


def test_a_paused_rollout_is_not_reconciling_forever() -> None:
    """Flux's `wait` would burn its whole timeout on Reconciling=True; paused is Current, and says why."""
    obj = RECORDED["paused"]
    assert obj["status"]["phase"] == ServicePhase.PAUSED
    assert conditions(obj) == {
        "Ready": ("False", EventReason.PAUSED),
        "Reconciling": ("False", EventReason.PAUSED),
        "Stalled": ("False", EventReason.NOT_STALLED),
    }
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "paused at step 1 (10%)"
    # the same canary unpaused is in progress
    assert kstatus(RECORDED["canary"]) == "InProgress"


@pytest.mark.parametrize(
    ("name", "phase"),
    [("route-not-accepted", ServicePhase.DEPLOYING), ("canary-route-not-accepted", ServicePhase.CANARY)],
)
def test_a_route_the_gateway_has_not_accepted_is_a_hold_not_an_error(name: str, phase: ServicePhase) -> None:
    """The canary only waits, with the gateway's reason: the phase of a rollout going on (never Error), Reconciling
    with the gateway's words (never Stalled), and `kubectl asgi status` says it is still going (exit 0; with
    --timeout it waits) instead of "the operator cannot run the spec" (exit 3)."""
    obj = RECORDED[name]
    assert obj["status"]["phase"] == phase
    assert conditions(obj) == {
        "Ready": ("False", EventReason.ROUTE_NOT_ACCEPTED),
        "Reconciling": ("True", EventReason.ROUTE_NOT_ACCEPTED),
        "Stalled": ("False", EventReason.NOT_STALLED),
    }
    by_type = {c["type"]: c for c in obj["status"]["conditions"]}
    assert by_type["Reconciling"]["message"] == by_type["Ready"]["message"]
    assert by_type["Ready"]["message"].startswith("held until the gateway accepts the route: ")
    assert "NotAllowedByListeners: no listener of Gateway public" in by_type["Ready"]["message"]
    judged = judge(obj)
    assert not judged.done and exit_code_now(obj) == Exit.OK, judged
    # the rollout itself goes on where it was: a hold neither ends nor moves it
    assert obj["status"]["rollout"]["phase"] == (RolloutPhase.PROGRESSING if phase == "Canary" else RolloutPhase.IDLE)


def test_a_hold_gives_way_to_what_a_person_must_act_on() -> None:
    """A problem to fix, a rollback or failure, and a person's pause say so; the hold is told once they are gone."""
    held = Hold(EventReason.ROUTE_NOT_ACCEPTED, "held until the gateway accepts the route: refused")
    failed = RolloutStatus(phase=RolloutPhase.FAILED, stable_revision="a", canary_revision="b", failed_revision="b")
    assert _compute(rollout=failed, held=held).phase == ServicePhase.FAILED
    invalid = Problem(EventReason.INVALID_SPEC, "bad", stalled=True)
    assert _compute(rollout=failed, held=held, problem=invalid).phase == ServicePhase.ERROR
    paused = RolloutStatus(
        phase=RolloutPhase.PROGRESSING, stable_revision="a", canary_revision="b", canary_weight=10, paused=True
    )
    assert _compute(rollout=paused, held=held).phase == ServicePhase.PAUSED
    promoting = paused.model_copy(update={"phase": RolloutPhase.PROMOTING, "paused": False})
    status = _compute(rollout=promoting, held=held)
    assert (status.phase, status.conditions[0].reason) == (ServicePhase.PROMOTING, EventReason.ROUTE_NOT_ACCEPTED)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("rolled-back", EventReason.SLO_VIOLATED),
        ("failed", EventReason.PROGRESS_DEADLINE_EXCEEDED),
        ("error-stalled", EventReason.INVALID_SPEC),
    ],
)
def test_a_rollback_or_failure_is_stalled_with_its_reason(name: str, reason: str) -> None:
    """`kubectl wait --for=condition=Stalled` ends at once, with the same reason and message as Ready."""
    by_type = {c["type"]: c for c in RECORDED[name]["status"]["conditions"]}
    assert (by_type["Stalled"]["status"], by_type["Stalled"]["reason"]) == ("True", reason)
    assert by_type["Stalled"]["message"] == by_type["Ready"]["message"] != ""
    assert by_type["Ready"]["status"] == "False"


def test_a_problem_retried_with_backoff_is_not_stalled_even_after_a_failed_rollout() -> None:
    failed = RolloutStatus(phase=RolloutPhase.FAILED, stable_revision="a", canary_revision="b", failed_revision="b")
    status = _compute(rollout=failed, problem=Problem(EventReason.FORBIDDEN, "no pdb", stalled=False))
    assert {c.type: c.status for c in status.conditions} == {
        "Ready": "False",
        "Reconciling": "True",
        "Stalled": "False",
    }
    status = _compute(rollout=failed, problem=None)
    assert {c.type: c.status for c in status.conditions} == {
        "Ready": "False",
        "Reconciling": "False",
        "Stalled": "True",
    }


def _compute(
    *,
    rollout: RolloutStatus,
    problem: Problem | None = None,
    previous: AsgiServiceStatus | None = None,
    now: str = "2026-03-02T09:00:00Z",
    held: Hold | None = None,
) -> AsgiServiceStatus:
    stable = Workload(replicas=2, ready=2, available=2, updated=2, total=2, current=True, revision="a")
    return compute(
        previous=previous or AsgiServiceStatus(),
        generation=3,
        revision=rollout.canary_revision or "a",
        rollout=rollout,
        stable=stable,
        canary=None,
        desired_replicas=2,
        selector="asgi.dev/name=shop",
        image="shop:1",
        problem=problem,
        now=now,
        held=held,
    )


def test_status_is_stable_so_an_unchanged_object_costs_no_write() -> None:
    """The reporter writes only when the dump differs: the same observations later give the same status."""
    paused = RolloutStatus(
        phase=RolloutPhase.PROGRESSING,
        stable_revision="a",
        canary_revision="b",
        canary_weight=10,
        paused=True,
        reason=EventReason.PAUSED,
        message="paused at step 1 (10%)",
    )
    first = _compute(rollout=paused)
    again = _compute(rollout=paused, previous=first, now="2026-03-02T10:00:00Z")
    assert again.model_dump(mode="json") == first.model_dump(mode="json")
    # resuming changes Ready's reason only (it stays False) and Reconciling's status: only that one moves
    resumed = _compute(
        rollout=paused.model_copy(update={"paused": False, "reason": EventReason.STEP_STARTED}),
        previous=first,
        now="2026-03-02T10:00:00Z",
    )
    times = {c.type: c.last_transition_time for c in resumed.conditions}
    assert times == {
        "Ready": "2026-03-02T09:00:00Z",
        "Reconciling": "2026-03-02T10:00:00Z",
        "Stalled": "2026-03-02T09:00:00Z",
    }


def _jsonpath(obj: dict[str, Any], path: str) -> Any:
    """The simple `.a.b` paths and `[?(@.type=="X")].field` filters the printer columns use."""
    node: Any = obj
    for part in re.findall(r'\.(\w+)|\[\?\(@\.type=="(\w+)"\)\]', path):
        field, kind = part
        if field:
            node = node.get(field) if isinstance(node, dict) else None
        else:
            node = next((c for c in node or [] if c.get("type") == kind), None)
    return node


def test_printer_columns_show_the_step_and_the_failed_checks() -> None:
    columns = {c["name"]: c for c in build_crd()["spec"]["versions"][0]["additionalPrinterColumns"]}

    def row(name: str) -> dict[str, Any]:
        return {col: _jsonpath(RECORDED[name], c["jsonPath"]) for col, c in columns.items()}

    assert (row("canary")["Phase"], row("canary")["Step"], row("canary")["Canary"]) == ("Canary", 1, 10)
    assert (row("promoting")["Step"], row("promoted")["Step"]) == (3, 0)
    assert (row("rolled-back")["Phase"], row("rolled-back")["Failed"]) == ("RolledBack", 2)
    rolled_back = AsgiServiceStatus.model_validate(RECORDED["rolled-back"]["status"])
    assert rolled_back.failed_checks == rolled_back.rollout.consecutive_failures == RULES.failure_threshold
    assert row("paused")["Ready"] == "False"
    assert columns["Step"]["type"] == columns["Failed"]["type"] == "integer"
    assert "priority" not in columns["Step"] and "priority" not in columns["Failed"]  # shown by default


def _status_schema() -> dict[str, Any]:
    version = build_crd()["spec"]["versions"][0]
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["status"])


def test_conditions_are_a_map_keyed_by_type() -> None:
    """Server-side apply and strategic merge treat one condition per type (as for the built-in kinds)."""
    schema = _status_schema()["properties"]["conditions"]
    assert schema["x-kubernetes-list-type"] == "map"
    assert schema["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in schema["items"]["required"]  # a map key must be required


def _properties(schema: dict[str, Any], path: str = "status") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, sub in schema.get("properties", {}).items():
        found.append((f"{path}.{name}", sub))
        found += _properties(sub, f"{path}.{name}")
        if "items" in sub:
            found += _properties(sub["items"], f"{path}.{name}[]")
    return found


def test_every_timestamp_in_status_is_a_date_time() -> None:
    """By name: a new `...At` or `...Time` field without the format fails here."""
    stamps = {p: s for p, s in _properties(_status_schema()) if re.search(r"(\.at|At|Time)$", p)}
    assert len(stamps) >= 10
    assert {p for p, s in stamps.items() if s.get("format") != "date-time"} == set()


def _values_at(obj: Any, suffix: re.Pattern[str], key: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [v for k, sub in obj.items() for v in _values_at(sub, suffix, k)]
    if isinstance(obj, list):
        return [v for sub in obj for v in _values_at(sub, suffix, key)]
    return [obj] if suffix.search(key) and isinstance(obj, str) else []


def test_every_timestamp_the_operator_writes_is_rfc3339() -> None:
    """The API server validates `format: date-time`: a status write with anything else would be refused."""
    stamps = [v for o in RECORDED.values() for v in _values_at(o.get("status"), re.compile(r"(^at|At|Time)$"))]
    assert len(stamps) > 20
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp), stamp
        assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0)


def test_no_scale_subresource_the_hpa_scales_the_deployment() -> None:
    """A `scale` subresource would give the AsgiService a replica count that `kubectl scale` and an HPA could
    set, fighting the HPA the operator renders for the stable Deployment (spec.autoscaling): not offered."""
    assert build_crd()["spec"]["versions"][0]["subresources"] == {"status": {}}
