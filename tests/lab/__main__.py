"""`python -m lab up|down|status|env` (PYTHONPATH=tests): the lab for `make lab-up`, `make demo` and by hand.

`up` starts a supervisor process in the background that owns the control plane; the lab's kubeconfigs and
the supervisor's pid are kept in the state directory (default `.lab/` in the repository). `down` stops the
supervisor, which stops every component and removes the lab's temporary directory. Both are idempotent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .cluster import REPO, Lab, ensure_binaries, wait_for
from .identity import create_identity_kubeconfig

OPERATOR_NAMESPACE = "asgi-operator-system"
OPERATOR_SERVICE_ACCOUNT = "asgi-operator"


def state_dir() -> Path:
    return Path(os.environ.get("ASGI_LAB_STATE") or REPO / ".lab")


def _pid(state: Path) -> int | None:
    try:
        pid = int((state / "supervisor.pid").read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def serve(state: Path) -> int:
    """The supervisor: start the lab, publish its kubeconfigs, run until SIGTERM, then stop everything."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lab = Lab(bin_dir=ensure_binaries("demo"))
    try:
        lab.start()
        shutil.copy(lab.admin_kubeconfig, state / "admin.kubeconfig")
        create_identity_kubeconfig(
            lab.bin("kubectl"),
            lab.admin_kubeconfig,
            state / "operator.kubeconfig",
            namespace=OPERATOR_NAMESPACE,
            name=OPERATOR_SERVICE_ACCOUNT,
        )
        (state / "workdir").write_text(str(lab.workdir))
        (state / "bin").write_text(str(lab.bin_dir))
        (state / "ready").write_text("ok")
        while not stop.wait(1.0):
            lab.assert_running()
    finally:
        lab.stop()
        for name in ("ready", "admin.kubeconfig", "operator.kubeconfig", "workdir", "bin", "supervisor.pid"):
            with contextlib.suppress(FileNotFoundError):
                (state / name).unlink()
    return 0


def up(state: Path) -> int:
    if _pid(state) and (state / "ready").exists():
        print(f"lab already running; export KUBECONFIG={state / 'admin.kubeconfig'}")
        return 0
    down(state, quiet=True)
    state.mkdir(parents=True, exist_ok=True)
    ensure_binaries("demo")  # build in the foreground, so its progress shows
    log = (state / "supervisor.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "tests"), "ASGI_LAB_STATE": str(state)},
    )
    (state / "supervisor.pid").write_text(str(proc.pid))
    try:
        wait_for("the lab to start", lambda: (state / "ready").exists() or proc.poll() is not None, 180)
    except TimeoutError:
        down(state, quiet=True)
        raise
    if proc.poll() is not None:
        print((state / "supervisor.log").read_text()[-4000:], file=sys.stderr)
        return 1
    print(f"lab is up; export KUBECONFIG={state / 'admin.kubeconfig'}")
    print(f"operator identity (least privilege): {state / 'operator.kubeconfig'}")
    return 0


def down(state: Path, quiet: bool = False) -> int:
    pid = _pid(state)
    if pid is None:
        if not quiet:
            print("lab is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    if not quiet:
        print("lab stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "serve", "kubeconfig"])
    args = parser.parse_args()
    state = state_dir()
    if args.command == "up":
        return up(state)
    if args.command == "down":
        return down(state)
    if args.command == "serve":
        return serve(state)
    if args.command == "kubeconfig":
        print(state / "admin.kubeconfig")
        return 0 if (state / "ready").exists() else 1
    running = _pid(state) is not None and (state / "ready").exists()
    print("running" if running else "stopped")
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main())
