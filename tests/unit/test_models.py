"""The pydantic models: defaults a user relies on, and every invalid spec rejected (parity with the CRD)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from asgi_operator.api.durations import format_seconds, parse_duration, seconds
from asgi_operator.api.models import WINDOW_SCRAPES, AsgiService, AsgiServiceSpec, ServerSpec, scrapes_per_interval
from asgi_operator.api.servers import ServerKind
from invalid_specs import AT_THE_EDGE, BASE, INVALID, Invalid, at_the_edge

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_defaults_match_the_product_brief() -> None:
    spec = AsgiServiceSpec.model_validate(BASE["spec"])
    assert spec.rollout.steps == [10, 50, 100]
    assert spec.rollout.slo.max_error_rate == 0.005
    assert seconds(spec.rollout.slo.max_latency_p99) == 0.2
    assert spec.server.kind is ServerKind.UVICORN
    assert spec.server.workers == 1
    # keep-alive above the usual 60 s load-balancer idle timeout
    assert seconds(spec.server.keep_alive) == 65
    assert seconds(spec.server.load_balancer_idle) == 60
    assert spec.probes.path == "/healthz"


def test_granian_keep_alive_defaults_fit_its_sixty_second_limit() -> None:
    granian = ServerSpec.model_validate({"kind": "granian"})
    assert seconds(granian.keep_alive) == 60
    assert seconds(granian.load_balancer_idle) < 60
    with pytest.raises(ValidationError, match="granian keeps an idle connection at most 60s"):
        ServerSpec.model_validate({"kind": "granian", "keepAliveTimeout": "65s"})


def test_camel_case_in_yaml_snake_case_in_python() -> None:
    server = ServerSpec.model_validate({"keepAliveTimeout": "90s", "gracefulShutdownTimeout": "20s"})
    assert server.keep_alive_timeout == "90s"
    dumped = server.model_dump(by_alias=True, exclude_none=True)
    assert dumped["keepAliveTimeout"] == "90s"
    assert "keep_alive_timeout" not in dumped


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_is_valid(path: Path) -> None:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc["kind"] == "AsgiService"]
    assert docs, f"{path.name} holds no AsgiService"
    for doc in docs:  # the objects it uses (a Secret, a ConfigMap) may come with it
        AsgiService.model_validate(doc)


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_models_reject_every_invalid_spec(case: Invalid) -> None:
    with pytest.raises(ValidationError) as err:
        AsgiService.model_validate(case.manifest())
    # the message points at the same field the API server names
    leaf = case.field.split("[")[0].split(".")[-1]
    assert leaf in str(err.value)


def test_unknown_fields_are_rejected_not_dropped() -> None:
    with pytest.raises(ValidationError, match="replica"):
        AsgiServiceSpec.model_validate({**BASE["spec"], "replica": 3})


@pytest.mark.parametrize(
    ("text", "expected"), [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5s", 1.5)]
)
def test_durations(text: str, expected: float) -> None:
    assert seconds(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "1d", "-1s", "s"])
def test_malformed_durations(text: str) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("value", "text"), [(0.2, "200ms"), (30, "30s"), (90, "90s"), (300, "5m"), (7200, "2h")])
def test_format_seconds(value: float, text: str) -> None:
    assert format_seconds(value) == text


@pytest.mark.parametrize(
    ("text", "canonical_form"),
    [
        ("1.5m", "1m30s"),
        ("90s", "1m30s"),
        ("0.25s", "250ms"),
        ("2h", "2h"),
        ("30s1m", "1m30s"),
        ("1h0.5m", "1h30s"),
        ("1.001s", "1s1ms"),
        ("0.0001s", "1ms"),
    ],
)
def test_durations_leave_the_operator_in_canonical_form(text: str, canonical_form: str) -> None:
    from asgi_operator.api.durations import canonical

    assert canonical(text) == canonical_form
    assert seconds(canonical_form) == pytest.approx(max(seconds(text), 0.001), abs=0.0005)


@pytest.mark.parametrize("changes", [c for _, c in AT_THE_EDGE], ids=[i for i, _ in AT_THE_EDGE])
def test_specs_at_the_edge_of_a_rule_are_accepted(changes: dict[str, object]) -> None:
    AsgiService.model_validate(at_the_edge(changes))


def test_scrapes_per_interval_counts_the_scrapes_between_two_analyses() -> None:
    def spec(**fields: object) -> AsgiServiceSpec:
        return AsgiServiceSpec.model_validate({**BASE["spec"], **fields})

    # the defaults: an analysis every minute, a scrape every 10 s
    assert scrapes_per_interval(spec()) == 6
    # accepted, but under WINDOW_SCRAPES: the analysis window is wider than the interval (status says so)
    few = spec(metrics={"interval": "30s"}, rollout={"interval": "1m"})
    assert scrapes_per_interval(few) == 2 < WINDOW_SCRAPES
    assert scrapes_per_interval(spec(metrics={"interval": "1m"}, rollout={"interval": "90s"})) == 1.5
    # below one scrape there is no spec to ask about, except without analyses
    rolling = spec(metrics={"interval": "1m"}, rollout={"strategy": "RollingUpdate", "interval": "10s"})
    assert scrapes_per_interval(rolling) == pytest.approx(1 / 6)
    with pytest.raises(ValidationError, match=r"rollout\.interval 10s is shorter than one scrape"):
        spec(metrics={"interval": "1m"}, rollout={"interval": "10s"})


def test_a_stored_stable_spec_is_not_judged_again_by_rules_added_since_it_was_admitted() -> None:
    """status.rollout.stableSpec was admitted by the API server when it was written; an operator upgrade that adds a
    rule across fields (here: rateLimit on an Ingress names its implementation) must not strand the object in
    StableSpecInvalid, while a field that no longer parses still does."""
    from asgi_operator.reconcile.plan import StableSpecInvalid, parse_stable_spec

    stored = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "hello.yaml").read_text())["spec"]
    stored["expose"] = {
        "host": "hello.example.com",
        "ingress": {"className": "nginx"},
        "rateLimit": {"requests": 100, "per": "Minute", "scope": "PerProxy"},  # before implementation was required
    }
    with pytest.raises(ValidationError, match="implementation"):
        AsgiServiceSpec.model_validate(stored)
    assert parse_stable_spec(stored).expose is not None
    stored["replicas"] = "three"
    with pytest.raises(StableSpecInvalid, match="replicas"):
        parse_stable_spec(stored)


TRAEFIK_REFUSALS = [c for c in INVALID if "traefik" in c.id]


@pytest.mark.parametrize("case", TRAEFIK_REFUSALS, ids=[c.id for c in TRAEFIK_REFUSALS])
def test_the_models_refuse_what_traefik_cannot_do_with_the_api_servers_words(case: Invalid) -> None:
    """The same reason as at `kubectl apply` (the CEL message, or its messageExpression with the values)."""
    with pytest.raises(ValidationError) as err:
        AsgiService.model_validate(case.manifest())
    for word in case.words:
        assert word in str(err.value), word


@pytest.mark.parametrize(
    ("requests", "per", "ceiling"),
    [
        (10, "Second", 10),
        (1, "Second", 1),
        (59, "Minute", 1),
        (100, "Minute", 1),
        (6000, "Minute", 100),
        (3599, "Hour", 1),
        (7200, "Hour", 2),
    ],
)
def test_traefiks_burst_is_at_most_what_refills_in_a_second(requests: int, per: str, ceiling: int) -> None:
    """Traefik forgets a client after one to two seconds without requests and starts its bucket full again."""
    limit = {"requests": requests, "per": per, "scope": "PerProxy", "implementation": "Traefik"}

    def expose(burst: int) -> dict[str, Any]:
        return {"host": "shop.example.com", "gateway": {"name": "public"}, "rateLimit": {**limit, "burst": burst}}

    AsgiServiceSpec.model_validate({**BASE["spec"], "expose": expose(ceiling)})
    with pytest.raises(ValidationError, match=rf"lower it to {ceiling} \(burst {ceiling + 1}\)"):
        AsgiServiceSpec.model_validate({**BASE["spec"], "expose": expose(ceiling + 1)})
