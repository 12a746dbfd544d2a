"""The Argo CD health check and resource actions (docs/argocd/, shipped as docs/argocd/argocd-cm.yaml), run in
gopher-lua exactly as Argo CD runs them (tests/lab/luarun): against the status of every phase, as the real
machine and status code write it (tests/recorded_phases.py), and against a live AsgiService with the operator
acting on what the actions write."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from asgi_operator.api import keys
from asgi_operator.api.vocabulary import EventReason, RequestVerb
from asgi_operator.argocd import ACTIONS, CUSTOMIZATION_KEY, action_names, argocd_cm
from asgi_operator.reconcile.observe import annotation, is_paused
from asgi_operator.rollout.machine import advance
from integration.helpers import apply, get, must_get, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import REPO, Cluster
from recorded_phases import RULES, play

SNIPPET = REPO / "docs" / "argocd" / "argocd-cm.yaml"
NOW = 1_772_442_000  # what os.time() returns in the scripts
STORY = play()
RECORDED = STORY.recorded


@pytest.fixture(scope="session")
def luarun() -> Path:
    out = subprocess.run(
        ["bash", str(REPO / "tests/lab/build.sh"), "luarun"], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1]) / "luarun"


def scripts() -> dict[str, str]:
    """The scripts as Argo CD reads them: from the shipped ConfigMap, not from the .lua files."""
    data = yaml.safe_load(SNIPPET.read_text())["data"]
    actions = yaml.safe_load(data[f"resource.customizations.actions.{CUSTOMIZATION_KEY}"])
    found = {"health": data[f"resource.customizations.health.{CUSTOMIZATION_KEY}"]}
    found["discovery"] = actions["discovery.lua"]
    found.update({d["name"]: d["action.lua"] for d in actions["definitions"]})
    return found


SCRIPTS = scripts()


def run(luarun: Path, mode: str, script: str, obj: dict[str, Any]) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "script.lua").write_text(script)
        (Path(tmp) / "obj.json").write_text(json.dumps(obj))
        done = subprocess.run(
            [str(luarun), mode, f"{tmp}/script.lua", f"{tmp}/obj.json"],
            capture_output=True,
            text=True,
            env={"LUARUN_NOW": str(NOW)},
            check=False,
        )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def merge_patch(before: Any, after: Any) -> Any:
    """RFC 7386 merge patch from `before` to `after` (what Argo CD sends for an action's returned object)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return after
    patch: dict[str, Any] = {k: None for k in before if k not in after}
    for k, v in after.items():
        if k not in before:
            patch[k] = v
        elif before[k] != v:
            patch[k] = merge_patch(before[k], v)
    return patch


def test_the_snippet_is_generated_from_the_lua_files() -> None:
    assert yaml.safe_load(SNIPPET.read_text()) == argocd_cm()
    assert action_names() == list(ACTIONS)  # every action has its action.lua
    assert set(ACTIONS) == {*RequestVerb, "pause", "resume"}  # one action per request verb, and the pause switch


def test_the_runner_is_as_strict_as_argo_cd(luarun: Path) -> None:
    """Argo CD opens no string library and no global os for configured scripts: a script that needs them fails
    here as it would there."""
    obj = RECORDED["ready"]
    for script in ('return {s = string.upper("x")}', "return {t = os.time()}"):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "s.lua").write_text(script)
            (Path(tmp) / "o.json").write_text(json.dumps(obj))
            done = subprocess.run(
                [str(luarun), "health", f"{tmp}/s.lua", f"{tmp}/o.json"], capture_output=True, text=True, check=False
            )
        assert done.returncode == 1 and "nil" in done.stderr, (script, done.stderr)
    assert run(luarun, "health", 'local os = require("os"); return {t = os.time()}', obj) == {"t": NOW}


# name -> Argo CD health, and words its message must carry
HEALTH: dict[str, tuple[str, str]] = {
    "pending": ("Progressing", "Waiting for the operator to report status"),
    "deploying": ("Progressing", "WaitingForPods: stable revision v1: 1/4 pods ready"),
    "ready": ("Healthy", "Available: revision v1 serving with 4 ready pods"),
    "spec-not-observed-yet": ("Progressing", "Waiting for the operator to observe generation 2"),
    "canary-starting": ("Progressing", "CanaryInProgress: step 1: waiting for 1 ready canary pods"),
    "canary": ("Progressing", "CanaryInProgress: step 1/3: 10% of traffic on the canary"),
    "route-not-accepted": ("Progressing", "RouteNotAccepted: held until the gateway accepts the route"),
    "canary-route-not-accepted": ("Progressing", "RouteNotAccepted: held until the gateway accepts the route"),
    "paused": ("Suspended", "Paused: paused at step 1 (10%)"),
    "promoting": ("Progressing", "Promoting: stable Deployment rolling out v2"),
    "promoted": ("Healthy", "Available: revision v2 serving"),
    "error-retrying": ("Degraded", "Forbidden: poddisruptionbudgets is forbidden"),
    "error-stalled": ("Degraded", "InvalidSpec: steps must be strictly increasing"),
    "rolled-back": ("Degraded", "SLOViolated: step 1 (10%): error rate 5.00% > 1.00%"),
    "failed": ("Degraded", "ProgressDeadlineExceeded: the canary did not get 1 ready pods within 5m"),
}


def test_health_covers_every_recorded_phase() -> None:
    assert set(HEALTH) == set(RECORDED)


@pytest.mark.parametrize("name", sorted(HEALTH))
def test_health_in_every_phase(luarun: Path, name: str) -> None:
    got = run(luarun, "health", SCRIPTS["health"], RECORDED[name])
    status, words = HEALTH[name]
    assert got["status"] == status
    assert words in got["message"]


# name -> the actions discovery.lua enables
ENABLED: dict[str, set[str]] = {
    "pending": {"promote", "promote-full", "abort", "pause"},  # a spec not seen yet may start a canary
    "deploying": {"pause"},
    "ready": {"pause"},
    "spec-not-observed-yet": {"promote", "promote-full", "abort", "pause"},
    "canary-starting": {"promote", "promote-full", "abort", "pause"},
    "canary": {"promote", "promote-full", "abort", "pause"},
    "route-not-accepted": {"pause"},
    "canary-route-not-accepted": {"promote", "promote-full", "abort", "pause"},
    "paused": {"promote-full", "abort", "resume"},
    "promoting": {"pause"},
    "promoted": {"pause"},
    "error-retrying": {"pause"},
    "error-stalled": {"pause"},
    "rolled-back": {"retry", "pause"},
    "failed": {"retry", "pause"},
}


@pytest.mark.parametrize("name", sorted(ENABLED))
def test_discovery_in_every_phase(luarun: Path, name: str) -> None:
    got = run(luarun, "discovery", SCRIPTS["discovery"], RECORDED[name])
    assert set(got) == set(ACTIONS)
    assert {a for a, v in got.items() if not v.get("disabled", False)} == ENABLED[name]


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_writes_only_the_annotation_the_operator_reads(luarun: Path, action: str) -> None:
    obj = RECORDED["canary"]
    patch = merge_patch(obj, run(luarun, "action", SCRIPTS[action], obj))
    if action == "pause":
        assert patch == {"metadata": {"annotations": {keys.ANNOTATION_PAUSED: "true"}}}
    elif action == "resume":
        # set, not removed: Argo CD would put back a map an action empties
        assert patch == {"metadata": {"annotations": {keys.ANNOTATION_PAUSED: "false"}}}
    else:
        request = f"{action}/argocd-{NOW}-{obj['metadata']['resourceVersion']}"
        assert patch == {"metadata": {"annotations": {keys.ANNOTATION_REQUEST: request}}}
        # a second click on the next version of the object is a new request (the operator acts on each once)
        again = dict(obj, metadata={**obj["metadata"], "resourceVersion": "99999"})
        assert annotation(run(luarun, "action", SCRIPTS[action], again), keys.ANNOTATION_REQUEST) != request


def _acted(name: str, body: dict[str, Any]) -> bool:
    """Does the rollout machine do something for the annotations of `body` that it would not do without them?
    Read with the operator's own annotation parsing, on what the machine was given in that phase."""
    moment = STORY.moments[name]
    live = RECORDED[name]
    without = advance(RULES, moment.rollout, moment.observe(paused=is_paused(live), request=None))
    with_ = advance(
        RULES, moment.rollout, moment.observe(paused=is_paused(body), request=annotation(body, keys.ANNOTATION_REQUEST))
    )
    forget = {"last_request": None}
    # the machine saying it will do nothing with a request (RequestIgnored, UnknownRequest) is not acting on it
    declined = {EventReason.REQUEST_IGNORED, EventReason.UNKNOWN_REQUEST}
    return (with_.rollout.model_copy(update=forget), [e for e in with_.events if e.reason not in declined]) != (
        without.rollout.model_copy(update=forget),
        without.events,
    )


@pytest.mark.parametrize("name", sorted(set(ENABLED) - {"pending", "spec-not-observed-yet"}))
def test_discovery_enables_exactly_the_actions_the_operator_acts_on(luarun: Path, name: str) -> None:
    """(Phases whose spec the operator has not seen yet are left out: it acts on the new spec first.)"""
    obj = RECORDED[name]
    offered = run(luarun, "discovery", SCRIPTS["discovery"], obj)
    for action in ACTIONS:
        acted = _acted(name, run(luarun, "action", SCRIPTS[action], obj))
        assert acted == (not offered[action].get("disabled", False)), (name, action, acted)


# ------------------------------------------------------------------ in the lab, with the operator running

NAME = "argo"


def _spec(version: str) -> dict[str, Any]:
    """No exposure (the replica-ratio router) and an unreachable Prometheus: a canary holds at its first step
    until somebody acts."""
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.KIND,
        "metadata": {"name": NAME},
        "spec": {
            "image": "registry.example.com/hello:1",
            "app": "main:app",
            "replicas": 2,
            "env": [{"name": "APP_VERSION", "value": version}],
            "metrics": {"interval": "1s"},  # rollout.interval is at least one scrape
            "rollout": {
                "steps": [10, 50, 100],
                "interval": "2s",
                "progressDeadline": "10m",
                "prometheus": {"address": "http://127.0.0.1:9"},
            },
        },
    }


class Live:
    def __init__(self, cluster: Cluster, namespace: str, luarun: Path) -> None:
        self.cluster, self.namespace, self.luarun = cluster, namespace, luarun

    def obj(self) -> dict[str, Any]:
        return must_get(self.cluster, "asgiservice", NAME, self.namespace)

    def health(self) -> dict[str, Any]:
        return dict(run(self.luarun, "health", SCRIPTS["health"], self.obj()))

    def offered(self) -> set[str]:
        got = run(self.luarun, "discovery", SCRIPTS["discovery"], self.obj())
        return {a for a, v in got.items() if not v.get("disabled", False)}

    def act(self, action: str) -> None:
        """What Argo CD does for an action: run it on the live object, merge-patch the difference."""
        live = self.obj()
        patch = merge_patch(live, run(self.luarun, "action", SCRIPTS[action], live))
        assert set(patch) == {"metadata"} and set(patch["metadata"]) == {"annotations"}, patch
        self.cluster.kubectl(
            "patch", "asgiservice", NAME, "-n", self.namespace, "--type=merge", "-p", json.dumps(patch)
        )

    def wait_health(self, status: str, timeout: float = 60) -> dict[str, Any]:
        return dict(wait_until(f"Argo CD health {status}", lambda: (h := self.health())["status"] == status and h))


@pytest.fixture
def live(cluster: Cluster, namespace: str, operator: OperatorProcess, luarun: Path) -> Live:
    return Live(cluster, namespace, luarun)


def test_argo_cd_actions_steer_a_live_rollout_and_health_follows(live: Live) -> None:
    apply(live.cluster, live.namespace, _spec("v1"))
    live.wait_health("Healthy")
    assert live.offered() == {"pause"}

    apply(live.cluster, live.namespace, _spec("v2"))
    wait_until("the canary at step 1", lambda: live.obj()["status"].get("canaryWeight") == 10)
    assert live.health()["status"] == "Progressing"
    assert live.offered() == {"promote", "promote-full", "abort", "pause"}

    live.act("pause")
    health = live.wait_health("Suspended")
    assert "paused at step 1" in health["message"]
    reconciling = next(c for c in live.obj()["status"]["conditions"] if c["type"] == "Reconciling")
    assert (reconciling["status"], reconciling["reason"]) == ("False", "Paused")
    live.cluster.kubectl(  # kstatus-style: a paused rollout is not Reconciling, so a wait on that ends
        "wait", "-n", live.namespace, "--for=condition=Reconciling=False", "--timeout=5s", f"asgiservice/{NAME}"
    )

    live.act("resume")
    live.wait_health("Progressing")
    live.act("promote")  # the operator acts on the request the Lua wrote: step 2
    wait_until("the canary at step 2 (50%)", lambda: live.obj()["status"].get("canaryWeight") == 50)
    assert live.obj()["status"]["step"] == 2

    live.act("abort")
    live.cluster.kubectl(
        "wait", "-n", live.namespace, "--for=condition=Stalled", "--timeout=30s", f"asgiservice/{NAME}"
    )
    status = live.obj()["status"]
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert (status["phase"], stalled["reason"]) == ("RolledBack", "Aborted")
    assert live.wait_health("Degraded")["message"].startswith("Aborted: ")
    assert live.offered() == {"retry", "pause"}

    first = status["rollout"]["id"]
    live.act("retry")
    wait_until("the retried canary", lambda: live.obj()["status"]["rollout"].get("id") == first + 1)
    assert live.wait_health("Progressing")
    assert get(live.cluster, "deployment", f"{NAME}-canary", live.namespace) is not None
