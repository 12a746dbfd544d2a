"""`kubectl asgi`: watch, steer, render and diff AsgiServices (the `kubectl-asgi` console script).

\b
  kubectl asgi status NAME [-w] [--timeout 10m]   the rollout; with -w/--timeout wait for its end
  kubectl asgi list [-A]                          every AsgiService: phase, revisions, weight, step
  kubectl asgi history NAME                       the revisions it went through and their outcomes
  kubectl asgi promote NAME [--full]              skip the current step's analysis (or all of them)
  kubectl asgi abort NAME                         roll back now
  kubectl asgi retry NAME                         run the canary of a rolled-back revision again
  kubectl asgi pause NAME / resume NAME           hold the rollout where it is / let it go on
  kubectl asgi render -f asgiservice.yaml         every object the operator would create (offline)
  kubectl asgi diff -f asgiservice.yaml           those objects against the live ones
  kubectl asgi completion bash|zsh                a shell completion script

Flags such as -n/--namespace, --context, --kubeconfig and --no-color go anywhere on the line, as with kubectl.
Every steering command is an annotation on the AsgiService (`asgi.dev/request`, `asgi.dev/paused`), so plain
kubectl and GitOps tools can do the same; the operator acts on each request once and never edits the spec.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import Any, Final

import click

from ..api import keys
from ..api.kinds import ASGI_SERVICE, CERTIFICATE, EVENT, JOB, POD_MONITOR
from ..api.vocabulary import REQUEST_HELP, RequestVerb
from .completion import COMPLETE_VAR, SCRIPT, SHELLS, cobra_answer, script
from .errors import NotFound, error, told
from .outcome import DIFF_ERROR, EXIT_CODES_HELP, Exit, exit_code_now
from .settings import FILES, PLACEHOLDER_UID, Settings, complete_names, duration, kube_flags, settings_of
from .view import (
    EVENT_HEADER,
    LIST_HEADER,
    RELEASE_HEADER,
    event_rows,
    list_row,
    refusal,
    release_rows,
    releases,
    render_status,
)

# Each command imports what it needs when it runs (the Kubernetes client, rich, YAML, the operator's models):
# `--help` and `completion` load click and this package's light modules only (bench/plugin_bench.py).

PROG: Final = "kubectl asgi"

__all__ = ["Settings", "cli", "kubectl_complete", "main", "refusal", "render_status"]


# ------------------------------------------------------------------------------------------------ the group
@click.group(
    help=__doc__,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
@kube_flags
def cli() -> None:
    pass


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("name", shell_complete=complete_names)
@click.option(
    "-w", "--watch", is_flag=True, help="Wait until the rollout of the current spec ends; exit code says how."
)
@click.option(
    "--timeout",
    callback=duration,
    metavar="DURATION",
    help="Like -w, giving up after this long (e.g. 10m) with exit code 4; 0: no limit.",
)
@kube_flags
@click.pass_context
def status(ctx: click.Context, name: str, watch: bool, timeout: float | None) -> int:
    """Show the rollout: phase, step, weight, the last analysis against its thresholds.

    Without -w it prints once, and exits 2 or 3 if the current revision has already rolled back or failed
    (0 otherwise, also mid-rollout). With -w or --timeout it follows the object through the API's watch
    until the rollout of the CURRENT spec ends: a spec the operator has not observed yet, or a request it
    has not taken yet, is waited for, so an earlier rollout's outcome never ends the wait. A rollout paused
    (asgi.dev/paused) ends the wait at once with exit code 5: it would not move before the deadline. On a
    terminal the view is redrawn in place; otherwise one line is printed per change (for CI logs)."""
    settings = settings_of(ctx)
    api, namespace, out = settings.api(), settings.current_namespace(), settings.output()
    if not watch and timeout is None:
        obj = api.get(ASGI_SERVICE, namespace, name)
        if obj is None:
            raise NotFound(f"asgiservice {namespace}/{name} not found")
        out.print(render_status(obj))
        return exit_code_now(obj)
    from .follow import follow
    from .watch import wait

    deadline = time.monotonic() + timeout if timeout else None
    return wait(out, follow(api, namespace, name, deadline=deadline), f"{namespace}/{name}", timeout)


@cli.command(name="list")
@click.option("-A", "--all-namespaces", is_flag=True, help="AsgiServices of every namespace.")
@kube_flags
@click.pass_context
def list_(ctx: click.Context, all_namespaces: bool) -> int:
    """Every AsgiService: phase, stable and canary revisions, weight, step, ready pods (stable + canary)."""
    settings = settings_of(ctx)
    api, out = settings.api(), settings.output()
    namespace = None if all_namespaces else settings.current_namespace()
    now = datetime.now(UTC)
    items = sorted(api.list(ASGI_SERVICE, namespace), key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    if not items:
        print(f"No AsgiServices found{'' if namespace is None else f' in {namespace} namespace'}.", file=sys.stderr)
        return Exit.OK
    header = ("NAMESPACE", *LIST_HEADER) if all_namespaces else LIST_HEADER
    rows = [((o["metadata"]["namespace"],) if all_namespaces else ()) + list_row(o, now) for o in items]
    out.table(header, rows)
    return Exit.OK


@cli.command()
@click.argument("name", shell_complete=complete_names)
@kube_flags
@click.pass_context
def history(ctx: click.Context, name: str) -> int:
    """The revisions this AsgiService went through and how each ended, from its status and its Events (the
    API server keeps Events for a limited time, one hour by default)."""
    settings = settings_of(ctx)
    api, namespace, out = settings.api(), settings.current_namespace(), settings.output()
    obj = api.get(ASGI_SERVICE, namespace, name)
    if obj is None:
        raise NotFound(f"asgiservice {namespace}/{name} not found")
    uid = obj["metadata"].get("uid")
    selector = f"involvedObject.kind={keys.KIND},involvedObject.name={name}"
    events = [
        e for e in api.list(EVENT, namespace, field_selector=selector) if e.get("involvedObject", {}).get("uid") == uid
    ]
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    out.print(
        f"asgiservice {namespace}/{name}: {rollout.get('id', 0)} rollout(s); revision {status.get('revision', '-')}, "
        f"stable {rollout.get('stableRevision') or '-'}, rollout {rollout.get('phase', 'Idle')}"
        + (f" (last: {rollout.get('reason')}: {rollout.get('message', '')})" if rollout.get("reason") else "")
    )
    out.print()
    found = releases(events)
    if found:
        out.table(RELEASE_HEADER, release_rows(found))
    else:
        out.print("No release in the Events kept by the API server.")
    if events:
        out.print()
        out.table(EVENT_HEADER, event_rows(events))
    return Exit.OK


# ------------------------------------------------------------------------------------------------ steering
def _request(ctx: click.Context, name: str, command: str, annotations: dict[str, str | None] | None) -> int:
    """Annotate the AsgiService with a request (refused, with the reason, when the operator would do nothing)."""
    settings = settings_of(ctx)
    api, namespace = settings.api(), settings.current_namespace()
    obj = api.get(ASGI_SERVICE, namespace, name)
    if obj is None:
        raise NotFound(f"asgiservice {namespace}/{name} not found")
    if annotations is None:
        verb = RequestVerb(command.replace(" --full", "-full"))
        why_not = refusal(obj, verb)
        if why_not is not None:
            error(why_not)
            return Exit.ERROR
        annotations = {keys.ANNOTATION_REQUEST: f"{verb}/{time.time_ns()}"}
    api.patch(ASGI_SERVICE, namespace, name, {"metadata": {"annotations": annotations}})
    print(f"asgiservice {namespace}/{name}: {command} requested")
    return Exit.OK


@cli.command()
@click.argument("name", shell_complete=complete_names)
@click.option("--full", is_flag=True, help=f"Promote {REQUEST_HELP[RequestVerb.PROMOTE_FULL]}, skipping every step.")
@kube_flags
@click.pass_context
def promote(ctx: click.Context, name: str, full: bool) -> int:
    """Go to the next step without analysis."""
    return _request(ctx, name, "promote --full" if full else "promote", None)


@cli.command()
@click.argument("name", shell_complete=complete_names)
@kube_flags
@click.pass_context
def abort(ctx: click.Context, name: str) -> int:
    """Roll back now."""
    return _request(ctx, name, "abort", None)


@cli.command()
@click.argument("name", shell_complete=complete_names)
@kube_flags
@click.pass_context
def retry(ctx: click.Context, name: str) -> int:
    """Run the canary of a rolled-back or failed revision again."""
    return _request(ctx, name, "retry", None)


@cli.command()
@click.argument("name", shell_complete=complete_names)
@kube_flags
@click.pass_context
def pause(ctx: click.Context, name: str) -> int:
    """Hold the rollout where it is (no analysis, no step)."""
    return _request(ctx, name, "pause", {keys.ANNOTATION_PAUSED: "true"})


@cli.command()
@click.argument("name", shell_complete=complete_names)
@kube_flags
@click.pass_context
def resume(ctx: click.Context, name: str) -> int:
    """Let a paused rollout go on."""
    return _request(ctx, name, "resume", {keys.ANNOTATION_PAUSED: None})


# ------------------------------------------------------------------------------------------------ render, diff
@cli.command()
@FILES
@click.option(
    "--uid",
    default=PLACEHOLDER_UID,
    show_default=True,
    help="The AsgiService's metadata.uid, assigned by the API server: it is in every ownerReference and so in "
    "every asgi.dev/config-hash.",
)
@click.option(
    "--pod-monitor-crd", is_flag=True, help="Render as in a cluster that serves PodMonitor (monitoring.coreos.com)."
)
@click.option("--cert-manager-crd", is_flag=True, help="Render as in a cluster that serves cert-manager's Certificate.")
@click.option(
    "--after-rollouts",
    is_flag=True,
    help="Render as after a finished canary rollout (the canary Deployment kept, with 0 pods), not a first deploy.",
)
@kube_flags
@click.pass_context
def render(
    ctx: click.Context,
    *,
    files: tuple[str, ...],
    uid: str,
    pod_monitor_crd: bool,
    cert_manager_crd: bool,
    after_rollouts: bool,
) -> int:
    """Print every object the operator would create for the AsgiServices in the files, as multi-document YAML,
    offline (no cluster is contacted; the namespace comes from the file, -n, or the kubeconfig's context).

    It runs the operator's own decision and rendering code for a first deploy of the spec, so the output is what
    the operator applies. What only a cluster knows is assumed unless given: the uid (--uid), the PodMonitor and
    Certificate CRDs (absent unless flagged), and the history (a first deploy: a pre-deploy Job, if the spec has
    one, assumed to succeed; no canary Deployment, unless --after-rollouts). A canary in flight is not rendered:
    it depends on the revision running in the cluster (see `diff`). Objects of other kinds in the files are
    skipped."""
    from . import preview
    from .files import services, to_yaml

    settings = settings_of(ctx)
    objects: list[dict[str, Any]] = []
    facts = preview.Cluster(uid, pod_monitor_crd, cert_manager_crd, after_rollouts)
    for doc, namespace in services(settings, files):
        rendered = preview.render(doc, namespace, facts)
        objects += rendered.objects
        for kind, name in rendered.patches:
            print(f"note: {rendered.name} also patches your {kind} {name} (its backendRefs)", file=sys.stderr)
    sys.stdout.write(to_yaml(objects))
    return Exit.OK


@cli.command(epilog=EXIT_CODES_HELP)
@FILES
@kube_flags
@click.pass_context
def diff(ctx: click.Context, files: tuple[str, ...]) -> int:
    """Render the files and compare with the live objects: a unified diff of the fields the operator owns (and of
    the AsgiService's own spec), live -> rendered. The uid, the served CRDs and whether canaries ran come from
    the cluster. It compares with the state once the file is applied and its revision is stable: during a
    canary the traffic split and the canary's size differ by design. Exit codes as kubectl diff: 0 no
    differences, 1 differences, 2 an error."""
    settings = settings_of(ctx)
    try:
        return _diff(settings, files)
    except Exception as e:
        message = told(e)
        if message is None:
            raise
        error(message)
        return DIFF_ERROR


def _diff(settings: Settings, files: tuple[str, ...]) -> int:
    from ..routers import kind_of
    from . import compare, preview
    from .files import services, trim

    api = settings.api()
    served = {"pod_monitor_crd": api.served(POD_MONITOR), "cert_manager_crd": api.served(CERTIFICATE)}
    found = False
    for doc, namespace in services(settings, files):
        name = doc["metadata"]["name"]
        live_service = api.get(ASGI_SERVICE, namespace, name)
        rollout = ((live_service or {}).get("status") or {}).get("rollout") or {}
        facts = preview.Cluster(
            uid=(live_service or {}).get("metadata", {}).get("uid", preview.PLACEHOLDER_UID),
            after_rollouts=int(rollout.get("id") or 0) > 0,
            **served,
        )
        rendered = preview.render(doc, namespace, facts)
        pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = [
            ({**doc, "metadata": {**doc["metadata"], "namespace": namespace}}, live_service)
        ]
        for manifest in rendered.objects:
            if manifest["kind"] == JOB.kind and rollout.get("stableRevision") == rendered.revision:
                continue  # the revision is deployed: its Job ran (and may be gone by its TTL); none is made again
            pairs.append((manifest, api.get(kind_of(manifest), namespace, manifest["metadata"]["name"])))
        uid = facts.uid
        for api_version, kind_name, child in rendered.deletes:
            kind = kind_of({"apiVersion": api_version, "kind": kind_name})
            if not api.served(kind):
                continue
            live = api.get(kind, namespace, child)
            refs = (live or {}).get("metadata", {}).get("ownerReferences", [])
            if live is not None and any(r.get("uid") == uid and r.get("controller") for r in refs):
                pairs.append((None, trim(live)))
        for desired, live in pairs:
            text = compare.unified(desired, live, compare.label(desired or live or {}))
            if text:
                found = True
                sys.stdout.write(text)
    return Exit.ERROR if found else Exit.OK


# ------------------------------------------------------------------------------------------------ completion
@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the completion script of SHELL for `kubectl-asgi`.

    \b
    bash:  source <(kubectl-asgi completion bash)    (in ~/.bashrc)
    zsh:   source <(kubectl-asgi completion zsh)     (in ~/.zshrc, after compinit)
    For `kubectl asgi <TAB>` (kubectl 1.26 and later), put the `kubectl_complete-asgi` executable installed with
    the package on your PATH, next to `kubectl-asgi`: kubectl runs it to complete the plugin's arguments."""
    sys.stdout.write(script(cli, shell))
    return Exit.OK


def kubectl_complete(argv: list[str] | None = None) -> int:
    """`kubectl_complete-asgi ARGS... INCOMPLETE`: what kubectl runs to complete `kubectl asgi ...`, answered in
    Cobra's `__complete` format."""
    for line in cobra_answer(cli, list(sys.argv[1:] if argv is None else argv)):
        print(line)
    return 0


# ------------------------------------------------------------------------------------------------ entry point
def main(argv: list[str] | None = None) -> int:
    completing = COMPLETE_VAR in os.environ  # the shell asks for completions: answer as kubectl-asgi
    try:
        code = cli.main(
            args=argv, prog_name=SCRIPT if completing else PROG, complete_var=COMPLETE_VAR, standalone_mode=False
        )
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except click.ClickException as e:
        e.show()
        return Exit.ERROR
    except BrokenPipeError:  # `kubectl asgi list | head`: the reader left
        sys.stderr.close()
        return Exit.OK
    except Exception as e:  # what a person can act on is told in one line; anything else is a bug: the traceback
        message = told(e)
        if message is None:
            raise
        error(message)
        return Exit.ERROR
    return int(code) if isinstance(code, int) else Exit.OK


if __name__ == "__main__":
    sys.exit(main())
