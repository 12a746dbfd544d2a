"""Run the operator as a real process (as in production: `asgi-operator run`), under a given identity."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from lab.cluster import REPO, GaveUp, die_with_parent, free_port, terminate, wait_for


class OperatorProcess:
    def __init__(
        self, kubeconfig: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
    ) -> None:
        self.kubeconfig = kubeconfig
        self.args = args
        self.env = env or {}
        self.prefix = prefix  # a command that runs the operator (e.g. in a mount namespace), it execs the rest
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="asgi-operator-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    sys.executable,
                    "-m",
                    "asgi_operator",
                    "run",
                    *([] if "-n" in self.args else ["-A"]),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--metrics-address=127.0.0.1:{self.metrics_port}",
                    f"--liveness=http://127.0.0.1:{self.health_port}/healthz",
                    "--log-format=plain",
                    *self.args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO / "operator"), **self.env},
                preexec_fn=die_with_parent,
            )
        wait_for("the operator's liveness endpoint", self.healthy, 60)
        return self

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise GaveUp(f"the operator exited with {self.proc.returncode}:\n{self.logs()[-4000:]}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
