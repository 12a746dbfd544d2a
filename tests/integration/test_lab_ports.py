"""The lab picks a free port, and the component binds it a moment later: another process may take it in between
(several labs, Prometheus and app processes start at once on a test machine). A component that loses that race
exits with "address already in use", and the lab starts it again on fresh ports. Here the race is lost on
purpose: the first port picked for a component is one this test is already listening on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster import PORT_ATTEMPTS, Lab, PortInUse, ensure_binaries, listening


class CrowdedLab(Lab):
    """A lab whose first pick of a port for each component in `crowd` (or every pick, with `always`) is a
    port another process already listens on: the race a busy machine loses now and then, every time."""

    def __init__(self, bin_dir: Path, taken: int, crowd: set[str], always: bool = False) -> None:
        super().__init__(bin_dir=bin_dir)
        self.taken, self.crowd, self.always = taken, crowd, always
        self.crowded: list[str] = []

    def pick_ports(self, component: str, count: int) -> list[int]:
        ports = super().pick_ports(component, count)
        if component in self.crowd and (self.always or component not in self.crowded):
            self.crowded.append(component)
            ports[0] = self.taken
        return ports


@pytest.fixture
def taken() -> Iterator[int]:
    """A port some other process listens on (here: this one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_a_component_whose_port_was_taken_starts_again_on_another(taken: int) -> None:
    crowd = {"etcd", "kube-apiserver", "kwok"}  # a probed one, the API server, and one only listening
    lab = CrowdedLab(ensure_binaries(), taken, crowd)
    with lab:
        assert sorted(lab.crowded) == sorted(crowd)
        for name in crowd:
            first = (lab.workdir / "logs" / f"{name}.port-in-use-1.log").read_text(errors="replace")
            assert "address already in use" in first, first[-2000:]
            proc = lab.process(name)
            assert proc.popen.poll() is None
            assert not listening(proc.popen.pid, taken)
        assert taken not in (lab.etcd_port, lab.api_port)
        assert [p.name for p in lab.processes] == [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        ]
        assert lab.kubectl("get", "nodes", "-o", "name").stdout.split() == [f"node/{n}" for n in lab.node_names]


def test_the_retries_are_bounded(taken: int) -> None:
    lab = CrowdedLab(ensure_binaries(), taken, {"etcd"}, always=True)
    with pytest.raises(PortInUse, match="address already in use"):
        lab.start()
    assert lab.crowded == ["etcd"] * PORT_ATTEMPTS
