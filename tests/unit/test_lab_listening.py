"""`lab.cluster.listening`: the lab waits until a component ITSELF listens on its port, so that a port lost to
another process (which then answers there) is never taken for the component being up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from lab.cluster import listening, wait_for


def test_only_the_process_holding_the_listening_socket_counts() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
            " print(s.getsockname()[1], flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        assert listening(child.pid, port)
        assert not listening(child.pid, port + 1 if port < 65535 else port - 1)
        with socket.create_connection(("127.0.0.1", port)):  # it answers there, but not as this process
            pass
        assert not listening(os.getpid(), port)
    finally:
        child.kill()
        child.wait()


def test_a_bound_socket_that_does_not_listen_yet_does_not_count() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
        assert not listening(os.getpid(), port)
        s.listen()
        wait_for("the socket to be listed as listening", lambda: listening(os.getpid(), port), 5)
