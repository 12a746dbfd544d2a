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

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import click
import yaml
from click.shell_completion import CompletionItem, ShellComplete, get_completion_class
from rich.console import Group
from rich.text import Text

from ..api import keys
from ..api.durations import parse_duration
from ..api.kinds import ASGI_SERVICE, CERTIFICATE, EVENT, JOB, POD_MONITOR, Kind
from ..api.vocabulary import REQUEST_HELP, RequestVerb
from ..kube.api import CONFIG_ERRORS, TRANSPORT_ERRORS, ApiError, KubeApi, contexts, current_namespace, load_client
from ..routers import kind_of
from . import compare, preview
from .follow import NotFound, follow
from .outcome import DIFF_ERROR, EXIT_CODES_HELP, Exit, exit_code_now, judge
from .output import Output, error
from .view import (
    EVENT_HEADER,
    LIST_HEADER,
    RELEASE_HEADER,
    columns,
    event_rows,
    list_row,
    progress_line,
    refusal,
    release_rows,
    releases,
    render_status,
)

PROG: Final = "kubectl asgi"
SCRIPT: Final = "kubectl-asgi"  # the executable kubectl finds; completion scripts are written for it
COMPLETE_VAR: Final = "_KUBECTL_ASGI_COMPLETE"
NAMESPACE: Final = Kind("v1", "Namespace", "namespaces", namespaced=False)
COMPLETION_TIMEOUT: Final = 3.0  # seconds: a completion that waits longer than this is worse than none

__all__ = ["cli", "kubectl_complete", "main", "refusal", "render_status"]


# ------------------------------------------------------------------------------------------------ settings
@dataclass
class Settings:
    """The kubectl-style flags, wherever they were given on the line (a later one wins)."""

    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    no_color: bool = False
    timeout: float = 30.0

    def api(self) -> KubeApi:
        return KubeApi(load_client(self.kubeconfig, self.context), timeout=self.timeout)

    def current_namespace(self) -> str:
        return self.namespace or current_namespace(self.kubeconfig, self.context)

    def output(self) -> Output:
        return Output(no_color=self.no_color)


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _store(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(_settings(ctx), attr, value)
        return value

    return callback


def _complete_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _complete(ctx, ASGI_SERVICE, incomplete)


def _complete_namespaces(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _complete(ctx, NAMESPACE, incomplete)


def _complete(ctx: click.Context, kind: Kind, incomplete: str) -> list[CompletionItem]:
    """Names from the cluster; nothing at all when it cannot be asked quickly (completion never errs)."""
    settings = replace_timeout(_settings(ctx), COMPLETION_TIMEOUT)
    try:
        namespace = settings.current_namespace() if kind.namespaced else None
        items = settings.api().list(kind, namespace)
        names = [str(o["metadata"]["name"]) for o in items]
    except Exception:  # any failure means no suggestions, never a traceback in the shell
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def replace_timeout(settings: Settings, timeout: float) -> Settings:
    return Settings(settings.namespace, settings.context, settings.kubeconfig, settings.no_color, timeout)


def _complete_contexts(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(c) for c in contexts(_settings(ctx).kubeconfig) if c.startswith(incomplete)]


F = TypeVar("F", bound=Callable[..., Any])


def kube_flags(f: F) -> F:
    """-n/--namespace, --context, --kubeconfig and --no-color, accepted on the group AND on every command, so
    `kubectl asgi status hello -n shop` works as `kubectl -n shop asgi status hello` does."""
    options = [
        click.option(
            "-n",
            "--namespace",
            expose_value=False,
            callback=_store("namespace"),
            shell_complete=_complete_namespaces,
            help="The namespace (default: the context's, else 'default').",
        ),
        click.option(
            "--context",
            expose_value=False,
            callback=_store("context"),
            shell_complete=_complete_contexts,
            help="The kubeconfig context to use.",
        ),
        click.option(
            "--kubeconfig",
            expose_value=False,
            callback=_store("kubeconfig"),
            type=click.Path(dir_okay=False),
            help="Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
        ),
        click.option(
            "--no-color",
            is_flag=True,
            expose_value=False,
            callback=_store("no_color"),
            help="Plain text even on a terminal (also NO_COLOR=1; output that is not a terminal is always plain).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """`90s`, `2m`, `1h30m` (as kubectl's --timeout), or plain seconds."""
    if value is None:
        return None
    text = value.strip()
    try:
        return float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text).total_seconds()
    except ValueError as e:
        raise click.BadParameter(str(e), param=param) from None


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
@click.argument("name", shell_complete=_complete_names)
@click.option(
    "-w", "--watch", is_flag=True, help="Wait until the rollout of the current spec ends; exit code says how."
)
@click.option(
    "--timeout",
    callback=_duration,
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
    has not taken yet, is waited for, so an earlier rollout's outcome never ends the wait. On a terminal the
    view is redrawn in place; otherwise one line is printed per change (for CI logs)."""
    settings = _settings(ctx)
    api, namespace, out = settings.api(), settings.current_namespace(), settings.output()
    if not watch and timeout is None:
        obj = api.get(ASGI_SERVICE, namespace, name)
        if obj is None:
            raise NotFound(f"asgiservice {namespace}/{name} not found")
        out.print(render_status(obj))
        return exit_code_now(obj)
    deadline = time.monotonic() + timeout if timeout else None
    return _wait(out, follow(api, namespace, name, deadline=deadline), f"{namespace}/{name}", timeout)


def _wait(out: Output, versions: Iterator[dict[str, Any]], who: str, timeout: float | None) -> int:
    latest: dict[str, Any] = {}
    judged = None
    if out.terminal:

        def view() -> Group:
            if not latest:  # drawn once before the first read returns
                return Group(out.styled(f"reading asgiservice {who} ...", "dim"))
            return Group(out.styled(render_status(latest)), Text(""), out.styled(f"... {judge(latest).why}", "dim"))

        with out.live(view) as live:
            for obj in versions:
                latest, judged = obj, judge(obj)
                live.refresh()
                if judged.done:
                    break
    else:
        printed = ""
        for obj in versions:
            if not latest:
                out.print(render_status(obj))
            latest, judged = obj, judge(obj)
            line = f"{progress_line(obj)}  ({judged.why})"
            if line != printed:
                out.print(f"{datetime.now(UTC):%H:%M:%S} {line}")
                printed = line
            if judged.done:
                break
    if judged is not None and judged.done:
        out.print(f"asgiservice {who}: {judged.why}", "bold" if judged.code == Exit.OK else "bold red")
        return judged.code
    last = judged.why if judged is not None else "nothing read"
    error(f"timed out after {_seconds(timeout)} waiting for asgiservice {who}: {last}")
    return Exit.TIMEOUT


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    whole = math.ceil(value)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


@cli.command(name="list")
@click.option("-A", "--all-namespaces", is_flag=True, help="AsgiServices of every namespace.")
@kube_flags
@click.pass_context
def list_(ctx: click.Context, all_namespaces: bool) -> int:
    """Every AsgiService: phase, stable and canary revisions, weight, step, ready pods (stable + canary)."""
    settings = _settings(ctx)
    api, out = settings.api(), settings.output()
    namespace = None if all_namespaces else settings.current_namespace()
    now = datetime.now(UTC)
    items = sorted(api.list(ASGI_SERVICE, namespace), key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    if not items:
        print(f"No AsgiServices found{'' if namespace is None else f' in {namespace} namespace'}.", file=sys.stderr)
        return Exit.OK
    header = ("NAMESPACE", *LIST_HEADER) if all_namespaces else LIST_HEADER
    rows = [((o["metadata"]["namespace"],) if all_namespaces else ()) + list_row(o, now) for o in items]
    _table(out, header, rows)
    return Exit.OK


def _table(out: Output, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    first, *rest = columns([header, *rows])
    out.header(first)
    for line in rest:
        out.print(line)


@cli.command()
@click.argument("name", shell_complete=_complete_names)
@kube_flags
@click.pass_context
def history(ctx: click.Context, name: str) -> int:
    """The revisions this AsgiService went through and how each ended, from its status and its Events (the
    API server keeps Events for a limited time, one hour by default)."""
    settings = _settings(ctx)
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
        _table(out, RELEASE_HEADER, release_rows(found))
    else:
        out.print("No release in the Events kept by the API server.")
    if events:
        out.print()
        _table(out, EVENT_HEADER, event_rows(events))
    return Exit.OK


# ------------------------------------------------------------------------------------------------ steering
def _request(ctx: click.Context, name: str, command: str, annotations: dict[str, str | None] | None) -> int:
    """Annotate the AsgiService with a request (refused, with the reason, when the operator would do nothing)."""
    settings = _settings(ctx)
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
@click.argument("name", shell_complete=_complete_names)
@click.option("--full", is_flag=True, help=f"Promote {REQUEST_HELP[RequestVerb.PROMOTE_FULL]}, skipping every step.")
@kube_flags
@click.pass_context
def promote(ctx: click.Context, name: str, full: bool) -> int:
    """Go to the next step without analysis."""
    return _request(ctx, name, "promote --full" if full else "promote", None)


@cli.command()
@click.argument("name", shell_complete=_complete_names)
@kube_flags
@click.pass_context
def abort(ctx: click.Context, name: str) -> int:
    """Roll back now."""
    return _request(ctx, name, "abort", None)


@cli.command()
@click.argument("name", shell_complete=_complete_names)
@kube_flags
@click.pass_context
def retry(ctx: click.Context, name: str) -> int:
    """Run the canary of a rolled-back or failed revision again."""
    return _request(ctx, name, "retry", None)


@cli.command()
@click.argument("name", shell_complete=_complete_names)
@kube_flags
@click.pass_context
def pause(ctx: click.Context, name: str) -> int:
    """Hold the rollout where it is (no analysis, no step)."""
    return _request(ctx, name, "pause", {keys.ANNOTATION_PAUSED: "true"})


@cli.command()
@click.argument("name", shell_complete=_complete_names)
@kube_flags
@click.pass_context
def resume(ctx: click.Context, name: str) -> int:
    """Let a paused rollout go on."""
    return _request(ctx, name, "resume", {keys.ANNOTATION_PAUSED: None})


# ------------------------------------------------------------------------------------------------ render, diff
def _documents(files: tuple[str, ...]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for file in files:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def _namespace_of(settings: Settings, doc: dict[str, Any]) -> str:
    """The file's namespace, else -n, else the context's (kubectl apply's rule; a conflict is an error)."""
    mine = (doc.get("metadata") or {}).get("namespace")
    if mine and settings.namespace and mine != settings.namespace:
        raise click.UsageError(
            f"the namespace from the provided object ({mine}) does not match the namespace given with -n "
            f"({settings.namespace})"
        )
    return str(mine or settings.current_namespace())


def _services(settings: Settings, files: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str]]:
    for doc in _documents(files):
        if preview.is_asgi_service(doc):
            yield doc, _namespace_of(settings, doc)
        else:
            meta = doc.get("metadata") or {} if isinstance(doc, dict) else {}
            kind = doc.get("kind", "?") if isinstance(doc, dict) else type(doc).__name__
            print(f"skipped {kind}/{meta.get('name', '?')}: not an AsgiService", file=sys.stderr)


FILES: Final = click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="A manifest with AsgiServices (multi-document YAML; '-' reads stdin). Repeatable.",
)


@cli.command()
@FILES
@click.option(
    "--uid",
    default=preview.PLACEHOLDER_UID,
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
    settings = _settings(ctx)
    objects: list[dict[str, Any]] = []
    facts = preview.Cluster(uid, pod_monitor_crd, cert_manager_crd, after_rollouts)
    for doc, namespace in _services(settings, files):
        rendered = preview.render(doc, namespace, facts)
        objects += rendered.objects
        for kind, name in rendered.patches:
            print(f"note: {rendered.name} also patches your {kind} {name} (its backendRefs)", file=sys.stderr)
    sys.stdout.write(to_yaml(objects))
    return Exit.OK


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a ConfigMap's file) as literal blocks, readable as the file they are."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in the order rendered, never folded (reads back as the same objects)."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=1_000_000)


def _trim(live: dict[str, Any]) -> dict[str, Any]:
    meta = live.get("metadata") or {}
    return {
        "apiVersion": live.get("apiVersion"),
        "kind": live.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
    }


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
    settings = _settings(ctx)
    try:
        return _diff(settings, files)
    except (ApiError, *TRANSPORT_ERRORS, *CONFIG_ERRORS, preview.NotAnAsgiService, yaml.YAMLError) as e:
        error(_message(e))
        return DIFF_ERROR


def _diff(settings: Settings, files: tuple[str, ...]) -> int:
    api = settings.api()
    served = {"pod_monitor_crd": api.served(POD_MONITOR), "cert_manager_crd": api.served(CERTIFICATE)}
    found = False
    for doc, namespace in _services(settings, files):
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
                pairs.append((None, _trim(live)))
        for desired, live in pairs:
            text = compare.unified(desired, live, compare.label(desired or live or {}))
            if text:
                found = True
                sys.stdout.write(text)
    return Exit.ERROR if found else Exit.OK


# ------------------------------------------------------------------------------------------------ completion
@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh"]))
def completion(shell: str) -> int:
    """Print the completion script of SHELL for `kubectl-asgi`.

    \b
    bash:  source <(kubectl-asgi completion bash)    (in ~/.bashrc)
    zsh:   source <(kubectl-asgi completion zsh)     (in ~/.zshrc, after compinit)
    For `kubectl asgi <TAB>` (kubectl 1.26 and later), put the `kubectl_complete-asgi` executable installed with
    the package on your PATH, next to `kubectl-asgi`: kubectl runs it to complete the plugin's arguments."""
    cls = get_completion_class(shell)
    assert cls is not None  # the choice allows only shells click knows
    sys.stdout.write(cls(cli, {}, SCRIPT, COMPLETE_VAR).source())
    return Exit.OK


def kubectl_complete(argv: list[str] | None = None) -> int:
    """`kubectl_complete-asgi ARGS... INCOMPLETE`: what kubectl runs to complete `kubectl asgi ...`. Answers in
    Cobra's `__complete` format: one candidate per line (value, tab, help), then `:<directive>` (4: no file
    completion; 0: the shell's default, for file arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    incomplete = args.pop() if args else ""
    items = ShellComplete(cli, {}, SCRIPT, COMPLETE_VAR).get_completions(args, incomplete)
    for item in items:
        print(f"{item.value}\t{item.help}" if item.help else item.value)
    print(":0" if any(item.type in ("file", "dir") for item in items) else ":4")
    return 0


# ------------------------------------------------------------------------------------------------ entry point
def _message(e: BaseException) -> str:
    if isinstance(e, ApiError):
        return f"{e.reason}: {e.message}" if e.reason else e.message
    if isinstance(e, TRANSPORT_ERRORS):
        return f"cannot reach the API server: {e}"
    return str(e)


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
    except (NotFound, ApiError, *TRANSPORT_ERRORS, *CONFIG_ERRORS, preview.NotAnAsgiService, yaml.YAMLError) as e:
        error(_message(e))
        return Exit.ERROR
    return int(code) if isinstance(code, int) else Exit.OK


if __name__ == "__main__":
    sys.exit(main())
