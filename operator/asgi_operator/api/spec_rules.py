"""The rules on the whole spec that are not about one part: they relate fields of several parts (the server and
the observability wrapper, the rollout and the metrics, the router and the exposure). Each is a CEL expression and
the same check in Python (see `rules`); `AsgiServiceSpec.RULES` holds these, then the rate limit's and the pod
features'.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from .base import ceil_seconds, cel_ceil, cel_regex
from .durations import seconds
from .patterns import APP_PATTERN, QUALIFIED_NAME_PATTERN
from .pod import SHUTDOWN_MARGIN_SECONDS
from .rollout import MIN_WINDOW_SCRAPES, WINDOW_SCRAPES, Router
from .rules import Rule, cel_string

if TYPE_CHECKING:
    from .models import AsgiServiceSpec

_CANARY: Final = "Canary"  # rollout.strategy with analyses

# CEL: MIN_WINDOW_SCRAPES x metrics.interval (a CEL duration cannot be multiplied by an integer)
_WINDOW_FLOOR: Final = " + ".join(["duration(self.metrics.interval)"] * MIN_WINDOW_SCRAPES)


def _router_fits_exposure(s: AsgiServiceSpec) -> bool:
    router, expose = s.rollout.router, s.expose
    if router == Router.GATEWAY_API:
        return expose is not None and (expose.gateway is not None or expose.http_route is not None)
    if router == Router.INGRESS_NGINX:
        return expose is not None and expose.ingress is not None
    return True


def scrapes_per_interval(spec: AsgiServiceSpec) -> float:
    """Scrapes between two analyses of a canary step (rollout.interval / metrics.interval): how many new samples of
    each series an analysis has that the one before did not. Below 1 is refused at apply time (a rule below);
    below WINDOW_SCRAPES the default analysis window (at least WINDOW_SCRAPES scrapes, see
    rollout.analysis.analysis_window) is wider than the interval, so each analysis re-reads mostly the samples
    the one before read."""
    return seconds(spec.rollout.interval) / seconds(spec.metrics.interval)


def _short_interval(rollout: str, metrics: str) -> str:
    """Why rollout.interval is refused, naming both values (in Python, or CEL expressions to splice, see _cel_text)."""
    return (
        f"rollout.interval {rollout} is shorter than one scrape (metrics.interval {metrics}): an analysis would "
        "find no new sample since the one before, and failureThreshold would count the same samples again; set "
        f"rollout.interval to at least {metrics} ({WINDOW_SCRAPES} scrapes or more are better), or metrics.interval "
        f"to at most {rollout}"
    )


def _spliced(cel: str) -> str:
    """A CEL expression to put inside a text made a CEL string by _cel_text."""
    return f"' + {cel} + '"


def _cel_text(text: str) -> str:
    """A CEL string expression of `text` (no quotes or backslashes of its own), with the `_spliced` expressions."""
    return ("'" + text + "'").removeprefix("'' + ").removesuffix(" + ''")


SPEC_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "!has(self.expose) || !has(self.expose.cors) || self.expose.cors.enforcement != 'App' || "
        "self.observability.wrapper",
        "expose.cors.enforcement App needs observability.wrapper: the wrapper is what enforces it in the app",
        lambda s: (
            s.expose is None or s.expose.cors is None or s.expose.cors.enforcement != "App" or s.observability.wrapper
        ),
        ".expose.cors.enforcement",
    ),
    Rule(
        "!self.observability.wrapper || !has(self.server.extraArgs) || !self.server.extraArgs.exists(a, "
        "a.startsWith('--app-dir') || a.startsWith('--pythonpath'))",
        "server.extraArgs --app-dir/--pythonpath conflict with the asgi_edge wrapper, which sets them: set "
        "observability.wrapper false, or run the app from the image's working directory",
        lambda s: (
            not s.observability.wrapper
            or not any(a.startswith(("--app-dir", "--pythonpath")) for a in s.server.extra_args)
        ),
        ".server.extraArgs",
    ),
    Rule(
        cel_regex(APP_PATTERN, "self.app"),
        "app must be an ASGI import path 'module:attribute', e.g. main:app or myproject.api:create_app",
        lambda s: re.fullmatch(APP_PATTERN, s.app) is not None,
        ".app",
    ),
    Rule(
        f"(!has(self.podLabels) || self.podLabels.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}'))) && "
        f"(!has(self.podAnnotations) || self.podAnnotations.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}')))",
        "podLabels and podAnnotations keys must be label keys such as team or example.com/team",
        lambda s: all(re.fullmatch(QUALIFIED_NAME_PATTERN, k) for k in [*s.pod_labels, *s.pod_annotations]),
        ".podLabels",
    ),
    Rule(
        "!has(self.env) || self.env.all(e, self.env.exists_one(f, f.name == e.name))",
        "env names must be unique",
        lambda s: len({e.name for e in s.env}) == len(s.env),
        ".env",
    ),
    Rule(
        "!(has(self.replicas) && has(self.autoscaling))",
        "set replicas or autoscaling, not both: the HPA owns the replica count",
        lambda s: not (s.replicas is not None and s.autoscaling is not None),
        ".replicas",
    ),
    Rule(
        "!has(self.autoscaling) || 'cpu' in self.resources.requests",
        "autoscaling on CPU needs resources.requests.cpu",
        lambda s: s.autoscaling is None or "cpu" in s.resources.requests,
        ".resources.requests",
    ),
    Rule(
        "!has(self.shutdown.terminationGracePeriod) || "
        f"{cel_ceil('self.shutdown.preStopDelay')} + {cel_ceil('self.server.gracefulShutdownTimeout')} + "
        f"{SHUTDOWN_MARGIN_SECONDS} <= {cel_ceil('self.shutdown.terminationGracePeriod')}",
        f"shutdown.terminationGracePeriod is too short: it must cover shutdown.preStopDelay + "
        f"server.gracefulShutdownTimeout + {SHUTDOWN_MARGIN_SECONDS}s, or Kubernetes kills in-flight "
        "requests",
        lambda s: (
            s.shutdown.termination_grace_period is None
            or ceil_seconds(s.shutdown.pre_stop_delay)
            + ceil_seconds(s.server.graceful_shutdown_timeout)
            + SHUTDOWN_MARGIN_SECONDS
            <= ceil_seconds(s.shutdown.termination_grace_period)
        ),
        ".shutdown.terminationGracePeriod",
    ),
    Rule(
        f"!has(self.rollout.slo.window) || duration(self.rollout.slo.window) >= {_WINDOW_FLOOR}",
        f"rollout.slo.window must hold at least {MIN_WINDOW_SCRAPES} scrapes ({MIN_WINDOW_SCRAPES} x "
        "metrics.interval): rate() needs two samples in the window, so a shorter one can never see a rate "
        f"({WINDOW_SCRAPES} scrapes or more are safer)",
        lambda s: (
            s.rollout.slo.window is None
            or seconds(s.rollout.slo.window) >= MIN_WINDOW_SCRAPES * seconds(s.metrics.interval)
        ),
        ".rollout.slo.window",
    ),
    Rule(  # a rollout's analysis: RollingUpdate has none
        f"self.rollout.strategy != {cel_string(_CANARY)} || "
        "duration(self.rollout.interval) >= duration(self.metrics.interval)",
        "rollout.interval must be at least metrics.interval (one scrape): an analysis would otherwise find no new "
        "sample since the one before, and failureThreshold would count the same samples again "
        f"({WINDOW_SCRAPES} scrapes or more per interval are better)",
        lambda s: s.rollout.strategy != _CANARY or scrapes_per_interval(s) >= 1,
        ".rollout.interval",
        message_expression=_cel_text(
            _short_interval(_spliced("self.rollout.interval"), _spliced("self.metrics.interval"))
        ),
        explain=lambda s: _short_interval(s.rollout.interval, s.metrics.interval),
    ),
    Rule(
        "!has(self.rollout.router) || "
        f"(self.rollout.router == {cel_string(Router.GATEWAY_API)} ? "
        "(has(self.expose) && (has(self.expose.gateway) || has(self.expose.httpRoute))) : "
        f"self.rollout.router == {cel_string(Router.INGRESS_NGINX)} ? "
        "(has(self.expose) && has(self.expose.ingress)) : true)",
        f"rollout.router {Router.GATEWAY_API} needs expose.gateway or expose.httpRoute, and "
        f"{Router.INGRESS_NGINX} needs expose.ingress: the router splits traffic on that object "
        f"({Router.REPLICAS} works with any exposure)",
        _router_fits_exposure,
        ".rollout.router",
    ),
    Rule(  # TLS
        "!has(self.expose) || !has(self.expose.tls) || !has(self.rollout.router) || "
        f"self.rollout.router != {cel_string(Router.REPLICAS)}",
        f"expose.tls is rendered by the {Router.GATEWAY_API} and {Router.INGRESS_NGINX} routers: with rollout."
        f"router {Router.REPLICAS} configure HTTPS on your Gateway or Ingress controller, or unset rollout.router",
        lambda s: s.expose is None or s.expose.tls is None or s.rollout.router != Router.REPLICAS,
        ".expose.tls",
    ),
)
