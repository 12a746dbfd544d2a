"""`kubectl asgi`: watch and steer rollouts (installed as the `kubectl-asgi` console script).

    kubectl asgi status NAME [-w]          phase, step, weight, last analysis against its thresholds
    kubectl asgi promote NAME [--full]     skip the current step's analysis (or all of them)
    kubectl asgi abort NAME                roll back now
    kubectl asgi retry NAME                run the canary of a rolled-back revision again
    kubectl asgi pause NAME / resume NAME  hold the rollout where it is / let it go on

Every command is an annotation on the AsgiService (`asgi.dev/request`, `asgi.dev/paused`), so plain kubectl
and GitOps tools can do the same; the operator acts on each request once and never edits the spec.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from ..api import keys
from ..api.kinds import ASGI_SERVICE
from ..api.vocabulary import RequestVerb, RolloutPhase
from ..kube.api import ApiError, KubeApi, current_namespace, load_client


def _ago(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "-"
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = int((then - now).total_seconds())
    return f"in {seconds}s" if seconds >= 0 else f"{-seconds}s ago"


def render_status(obj: dict[str, Any], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    spec_rollout = (obj.get("spec") or {}).get("rollout") or {}
    steps = spec_rollout.get("steps", [])
    ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    lines = [
        f"Name:        {obj['metadata']['namespace']}/{obj['metadata']['name']}",
        f"Phase:       {status.get('phase', 'Pending')}  (Ready={ready.get('status', 'Unknown')}: "
        f"{ready.get('message', '')})",
        f"Stable:      {rollout.get('stableRevision', '-')}  image {status.get('image', '-')}  "
        f"{status.get('readyReplicas', 0)}/{status.get('replicas', 0)} ready",
    ]
    phase = rollout.get("phase", RolloutPhase.IDLE)
    if phase != RolloutPhase.IDLE or rollout.get("canaryRevision"):
        split = ""
        if rollout.get("approximateSplit"):  # no router: the split is the canary's share of the ready pods
            pods = status.get("readyReplicas", 0) + status.get("canaryReadyReplicas", 0)
            share = round(100 * status.get("canaryReadyReplicas", 0) / pods) if pods else 0
            split = f" (approximate, by pod count: about {share}% now)"
        step = rollout.get("stepIndex", 0)
        lines += [
            f"Canary:      {rollout.get('canaryRevision', '-')}  {status.get('canaryReadyReplicas', 0)}/"
            f"{status.get('canaryReplicas', 0)} ready",
            f"Rollout:     {phase}{' (paused)' if rollout.get('paused') else ''}  step {step + 1}/{len(steps)} "
            f"of {'/'.join(map(str, steps))}%  weight {status.get('canaryWeight', 0)}%{split}",
            f"             {rollout.get('reason', '')}: {rollout.get('message', '')}",
        ]
        if phase == RolloutPhase.PROGRESSING:
            lines.append(
                f"Next check:  {_ago(rollout.get('nextAnalysisAt'), now)}  "
                f"(failed in a row: {rollout.get('consecutiveFailures', 0)}/"
                f"{spec_rollout.get('failureThreshold', '-')})"
            )
    last = rollout.get("lastAnalysis")
    if last:

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v * 100:.2f}%"

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.0f}ms"

        lines += [
            f"Analysis:    {last['verdict']} at {last['at']} (step {last['step']}, {last['weight']}%)",
            f"  error rate {pct(last.get('errorRate'))}  max {pct(last.get('maxErrorRate'))}",
            f"  p99        {ms(last.get('latencyP99Seconds'))}  max {ms(last.get('maxLatencyP99Seconds'))}",
            f"  requests   {'-' if last.get('requests') is None else round(last['requests'])}  "
            f"min {last.get('minRequests')}",
            f"  {last.get('message', '')}",
        ]
    return "\n".join(lines)


def refusal(obj: dict[str, Any], verb: str) -> str | None:
    """Why a request would do nothing (the operator acts on it only in the right phase), or None."""
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    phase = rollout.get("phase", RolloutPhase.IDLE)
    name = obj["metadata"]["name"]
    if verb == RequestVerb.RETRY:
        failed = rollout.get("failedRevision")
        if phase in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED) and failed and failed == status.get("revision"):
            return None
        return (
            f"nothing to retry: {name} has no rolled-back or failed revision to run again (rollout phase {phase}); "
            "retry applies after a rollback or failure, while the spec still renders that revision"
        )
    if verb in (RequestVerb.PROMOTE, RequestVerb.PROMOTE_FULL, RequestVerb.ABORT):
        spec_not_seen = status.get("observedGeneration") != obj["metadata"].get("generation")
        if phase == RolloutPhase.PROGRESSING or spec_not_seen:
            return None
        what = "abort" if verb == RequestVerb.ABORT else "promote"
        return f"nothing to {what}: {name} has no canary in progress (rollout phase {phase})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kubectl asgi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--namespace")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="show the rollout")
    status.add_argument("name")
    status.add_argument("-w", "--watch", action="store_true", help="refresh every 2 s until interrupted")
    promote = sub.add_parser("promote", help="go to the next step without analysis")
    promote.add_argument("name")
    promote.add_argument("--full", action="store_true", help="promote to stable now, skipping every step")
    for verb, text in (
        ("abort", "roll back now"),
        ("retry", "retry a rolled-back revision"),
        ("pause", "hold the rollout"),
        ("resume", "continue a paused rollout"),
    ):
        sub.add_parser(verb, help=text).add_argument("name")
    args = parser.parse_args(argv)

    api = KubeApi(load_client(args.kubeconfig))
    namespace = args.namespace or current_namespace(args.kubeconfig)
    try:
        obj = api.get(ASGI_SERVICE, namespace, args.name)
        if obj is None:
            print(f"asgiservice {namespace}/{args.name} not found", file=sys.stderr)
            return 1
        if args.command == "status":
            while True:
                text = render_status(obj)
                print(("\033[2J\033[H" if args.watch else "") + text, flush=True)
                if not args.watch:
                    return 0
                time.sleep(2)
                obj = api.get(ASGI_SERVICE, namespace, args.name) or obj
        annotations: dict[str, str | None]
        if args.command == "pause":
            annotations = {keys.ANNOTATION_PAUSED: "true"}
        elif args.command == "resume":
            annotations = {keys.ANNOTATION_PAUSED: None}
        else:
            verb = RequestVerb.PROMOTE_FULL if args.command == "promote" and args.full else RequestVerb(args.command)
            why_not = refusal(obj, verb)
            if why_not is not None:
                print(f"error: {why_not}", file=sys.stderr)
                return 1
            annotations = {keys.ANNOTATION_REQUEST: f"{verb}/{time.time_ns()}"}
        api.patch(ASGI_SERVICE, namespace, args.name, {"metadata": {"annotations": annotations}})
    except ApiError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    print(
        f"asgiservice {namespace}/{args.name}: {args.command}{' --full' if getattr(args, 'full', False) else ''}"
        " requested"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
