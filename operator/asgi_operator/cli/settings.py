"""The flags `kubectl asgi` shares with kubectl (-n/--namespace, --context, --kubeconfig, --no-color), accepted
anywhere on the line, the other options more than one command takes, and the completion of their values.

Light to import: `--help` and `completion` load this and click, nothing more. The Kubernetes client, rich and
the operator's models are imported by the commands that use them, when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click
from click.shell_completion import CompletionItem

from ..api.kinds import ASGI_SERVICE, Kind

if TYPE_CHECKING:
    from ..kube.api import KubeApi
    from .output import Output

NAMESPACE: Final = Kind("v1", "Namespace", "namespaces", namespaced=False)
COMPLETION_TIMEOUT: Final = 3.0  # seconds: a completion that waits longer than this is worse than none
PLACEHOLDER_UID: Final = "00000000-0000-0000-0000-000000000000"  # the uid `render` assumes unless given --uid


@dataclass
class Settings:
    """The kubectl-style flags, wherever they were given on the line (a later one wins)."""

    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    no_color: bool = False
    timeout: float = 30.0

    def api(self) -> KubeApi:
        from ..kube.api import KubeApi, load_client

        return KubeApi(load_client(self.kubeconfig, self.context), timeout=self.timeout)

    def current_namespace(self) -> str:
        from ..kube.api import current_namespace

        return self.namespace or current_namespace(self.kubeconfig, self.context)

    def output(self) -> Output:
        from .output import Output

        return Output(no_color=self.no_color)


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _store(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(settings_of(ctx), attr, value)
        return value

    return callback


# ------------------------------------------------------------------------------------------------ completion
def complete_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _complete(ctx, ASGI_SERVICE, incomplete)


def _complete_namespaces(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _complete(ctx, NAMESPACE, incomplete)


def _complete(ctx: click.Context, kind: Kind, incomplete: str) -> list[CompletionItem]:
    """Names from the cluster; nothing at all when it cannot be asked quickly (completion never errs)."""
    settings = replace(settings_of(ctx), timeout=COMPLETION_TIMEOUT)
    try:
        namespace = settings.current_namespace() if kind.namespaced else None
        items = settings.api().list(kind, namespace)
        names = [str(o["metadata"]["name"]) for o in items]
    except Exception:  # any failure means no suggestions, never a traceback in the shell
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def _complete_contexts(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from ..kube.api import contexts

    return [CompletionItem(c) for c in contexts(settings_of(ctx).kubeconfig) if c.startswith(incomplete)]


# ------------------------------------------------------------------------------------------------ options
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


def duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """`90s`, `2m`, `1h30m` (as kubectl's --timeout), or plain seconds."""
    if value is None:
        return None
    text = value.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return float(text)
        from ..api.durations import parse_duration

        return parse_duration(text).total_seconds()
    except ValueError as e:
        raise click.BadParameter(str(e), param=param) from None


FILES: Final = click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="A manifest with AsgiServices (multi-document YAML; '-' reads stdin). Repeatable.",
)
