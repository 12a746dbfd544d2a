"""The alerts in docs/alerts.yaml, run by Prometheus' own rule engine (`promtool test rules`) over recorded
series: every alert fires when it should and stays quiet when it should not, including the first rollback
after an operator start, whose rollouts_total series is born at 1 (where increase() alone sees nothing)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster import REPO, ensure_binaries

ALERTS = REPO / "docs" / "alerts.yaml"

# one rolled-back rollout of shop/hello, counted by the operator pod that was active then
FAILED = 'asgi_operator_rollouts_total{namespace="shop",name="hello",result="SLOViolated",pod="asgi-operator-a"}'
PROMOTED = 'asgi_operator_rollouts_total{namespace="shop",name="hello",result="promoted",pod="asgi-operator-a"}'
FAILED_LABELS = {"namespace": "shop", "name": "hello", "result": "SLOViolated", "pod": "asgi-operator-a"}
PHASE = 'asgi_operator_rollout_phase{{namespace="shop",name="hello",phase="{}",pod="asgi-operator-a"}}'
PROM_QUERIES = 'asgi_operator_prometheus_queries_total{{outcome="{}",pod="asgi-operator-a"}}'
RECONCILES = 'asgi_operator_reconciles_total{{outcome="{}",pod="asgi-operator-a"}}'

# A case: recorded series (one sample a minute; `_` is a scrape without the series, `1x5` is six samples of 1),
# then, for one alert, which label sets fire at which minute ([] = nothing fires).
CASES: dict[str, dict[str, Any]] = {
    # The operator starts at minute 0 and knows no rollouts_total series; the first rollback after the start
    # creates the series at 1 at minute 5. increase() over it is 0: the second half of the rule catches it.
    "first rollback after operator start": {
        "series": {FAILED: "_x5 1x30", PROMOTED: "_x2 1x33"},
        "alert": "AsgiRolloutFailed",
        "expect": {4: [], 5: [FAILED_LABELS], 14: [FAILED_LABELS], 15: [], 30: []},
    },
    # the series exists since minute 0 (its own first rollback then fires until minute 9); one more rollback at
    # minute 21 fires while a 10-minute window holds both samples around the increase
    "a later rollback of a series that exists": {
        "series": {FAILED: "1x20 2x30"},
        "alert": "AsgiRolloutFailed",
        "expect": {12: [], 20: [], 22: [FAILED_LABELS], 29: [FAILED_LABELS], 31: [], 45: []},
    },
    # born at 1, then a second rollback 2 minutes later: both halves of the rule match the same series, and it
    # is one alert (two samples with the same labels would be a rule evaluation error: no alert at all)
    "a rollback right after the first one": {
        "series": {FAILED: "_x5 1 1 2x30"},
        "alert": "AsgiRolloutFailed",
        "expect": {6: [FAILED_LABELS], 8: [FAILED_LABELS], 15: [FAILED_LABELS], 16: []},
    },
    # after a restart the new pod's counter starts again (born at 1 under the new pod label); the old pod's
    # series going away fires nothing
    "first rollback after a restart": {
        "series": {FAILED: "1x9", FAILED.replace("asgi-operator-a", "asgi-operator-b"): "_x30 1x10"},
        "alert": "AsgiRolloutFailed",
        "expect": {
            20: [],
            31: [{**FAILED_LABELS, "pod": "asgi-operator-b"}],
            39: [{**FAILED_LABELS, "pod": "asgi-operator-b"}],
            40: [],
        },
    },
    "promoted rollouts are not failures": {
        "series": {PROMOTED: "_x5 1x10 2x10"},
        "alert": "AsgiRolloutFailed",
        "expect": {6: [], 17: []},
    },
    "a rollout in progress for over an hour": {
        "series": {PHASE.format("Progressing"): "1x40 0x40", PHASE.format("Promoting"): "0x40 1x40"},
        "alert": "AsgiRolloutStalled",
        "expect": {59: [], 61: [{"namespace": "shop", "name": "hello"}], 80: [{"namespace": "shop", "name": "hello"}]},
    },
    "a rollout that ends within the hour": {
        "series": {PHASE.format("Progressing"): "1x50 0x30", PHASE.format("Idle"): "0x50 1x30"},
        "alert": "AsgiRolloutStalled",
        "expect": {45: [], 79: []},
    },
    "Prometheus queries keep failing": {
        "series": {PROM_QUERIES.format("error"): "0+1x40", PROM_QUERIES.format("ok"): "0+5x40"},
        "alert": "AsgiOperatorPrometheusErrors",
        "expect": {5: [], 25: [{}], 40: [{}]},
    },
    "Prometheus queries failed for a while, then recovered": {
        "series": {PROM_QUERIES.format("error"): "0+1x15 15x40", PROM_QUERIES.format("ok"): "0+5x55"},
        "alert": "AsgiOperatorPrometheusErrors",
        "expect": {5: [], 12: [{}], 40: [], 55: []},
    },
    "reconciles keep failing": {
        "series": {RECONCILES.format("error"): "0+2x40", RECONCILES.format("ok"): "0+10x40"},
        "alert": "AsgiOperatorReconcileErrors",
        "expect": {10: [], 30: [{}], 40: [{}]},
    },
    "reconciles succeed": {
        "series": {RECONCILES.format("error"): "3x40", RECONCILES.format("ok"): "0+10x40"},
        "alert": "AsgiOperatorReconcileErrors",
        "expect": {20: [], 40: []},
    },
}


def rules(text: str | None = None) -> dict[str, Any]:
    """docs/alerts.yaml's rule groups: what a plain Prometheus loads as a rules file."""
    return dict(yaml.safe_load(text or ALERTS.read_text())["spec"])


def alerting_rules(groups: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups["groups"] for r in g["rules"] if "alert" in r}


def expanded(template: str, labels: dict[str, str]) -> str:
    """An annotation as Prometheus expands it; the alerts use only `{{ $labels.NAME }}`."""
    rest = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], template)
    assert "{{" not in rest, f"the test expands only {{{{ $labels.NAME }}}}: {template!r}"
    return rest


def promtool_test(case: dict[str, Any], groups: dict[str, Any]) -> dict[str, Any]:
    rule = alerting_rules(groups)[case["alert"]]
    tests = []
    for minute, firing in case["expect"].items():
        alerts = []
        for labels in firing:
            with_rule = {**labels, **rule.get("labels", {})}
            annotations = {k: expanded(v, labels) for k, v in rule.get("annotations", {}).items()}
            alerts.append({"exp_labels": with_rule, "exp_annotations": annotations})
        tests.append({"eval_time": f"{minute}m", "alertname": case["alert"], "exp_alerts": alerts})
    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case["series"].items()],
                "alert_rule_test": tests,
            }
        ],
    }


@pytest.fixture(scope="module")
def promtool() -> str:
    binary = ensure_binaries() / "promtool"
    if not binary.exists():  # ASGI_LAB_BIN_DIR without promtool: build it into the lab's cache
        out = subprocess.run(
            ["bash", str(REPO / "tests/lab/build.sh"), "promtool"], check=True, stdout=subprocess.PIPE, text=True
        )
        binary = Path(out.stdout.strip().splitlines()[-1]) / "promtool"
    return str(binary)


def run_promtool(promtool: str, directory: Path, groups: dict[str, Any], test: dict[str, Any]) -> str:
    (directory / "rules.yaml").write_text(yaml.safe_dump(groups, sort_keys=False))
    (directory / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], cwd=directory, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    return output if result.returncode == 0 else "FAILED\n" + output


def test_rules_load_in_prometheus(promtool: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    result = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules(rules()))} rules found" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    fires = {c["alert"] for c in CASES.values() if any(c["expect"].values())}
    quiet = {c["alert"] for c in CASES.values() if any(v == [] for v in c["expect"].values())}
    assert fires == quiet == set(alerting_rules(rules()))


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_alert_on_recorded_series(promtool: str, tmp_path: Path, case: str) -> None:
    output = run_promtool(promtool, tmp_path, rules(), promtool_test(CASES[case], rules()))
    assert not output.startswith("FAILED"), output


def test_increase_alone_misses_the_first_rollback(promtool: str, tmp_path: Path) -> None:
    """The first-rollback case tells the rule apart from the one it replaced (increase() > 0 alone)."""
    groups = rules()
    alerting_rules(groups)["AsgiRolloutFailed"]["expr"] = (
        'increase(asgi_operator_rollouts_total{result!="promoted"}[10m]) > 0'
    )
    case = CASES["first rollback after operator start"]
    output = run_promtool(promtool, tmp_path, groups, promtool_test(case, groups))
    assert output.startswith("FAILED") and "AsgiRolloutFailed" in output, output
