"""Shell completion of `kubectl asgi`: the scripts for bash and zsh (click's protocol, through the
_KUBECTL_ASGI_COMPLETE variable), and the answers kubectl 1.26+ asks `kubectl_complete-asgi` for (Cobra's
`__complete` protocol). What completes the values themselves (AsgiService names, namespaces, contexts) is with
the options, in settings.py."""

from __future__ import annotations

from typing import Final

import click
from click.shell_completion import ShellComplete, get_completion_class

SCRIPT: Final = "kubectl-asgi"  # the executable kubectl finds; completion scripts are written for it
COMPLETE_VAR: Final = "_KUBECTL_ASGI_COMPLETE"
SHELLS: Final = ("bash", "zsh")


def script(group: click.Group, shell: str) -> str:
    """The completion script of `shell` for `kubectl-asgi`."""
    cls = get_completion_class(shell)
    assert cls is not None  # SHELLS are shells click knows
    return cls(group, {}, SCRIPT, COMPLETE_VAR).source()


def cobra_answer(group: click.Group, args: list[str]) -> list[str]:
    """The lines answering `kubectl_complete-asgi ARGS... INCOMPLETE`: one candidate per line (value, tab,
    help), then `:<directive>` (4: no file completion; 0: the shell's default, for file arguments)."""
    args = list(args)
    incomplete = args.pop() if args else ""
    items = ShellComplete(group, {}, SCRIPT, COMPLETE_VAR).get_completions(args, incomplete)
    lines = [f"{item.value}\t{item.help}" if item.help else item.value for item in items]
    return [*lines, ":0" if any(item.type in ("file", "dir") for item in items) else ":4"]
