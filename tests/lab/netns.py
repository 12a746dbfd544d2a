"""A network namespace of the lab's own: the real gateway's traffic to pod IPs stays inside it.

The API server refuses loopback addresses in EndpointSlices ("may not be in the loopback range"), so a real
gateway (Traefik) can only route to pods at the IPs kwok gives them (10.244.0.0/16). In a network namespace
made here, with `lo` up and the whole pod CIDR routed to it as local addresses, every pod IP is bindable: one
process per pod listens at its own IP, and nothing of it touches the machine's own network. Nothing in the
namespace reaches another host either (it has no other interface), so a test run inside it provably sends
nothing off the machine.

`enter()` moves the calling process into a fresh namespace: as root with unshare(CLONE_NEWNET); as any other
user inside a user namespace of its own as well (what `unshare -rn` does), where the kernel allows it. It must
run before the process starts threads, and after everything that needs the network (builds) is done: `outside`
runs a command back in the machine's namespace (root only: a user namespace cannot go back).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

POD_CIDR: Final = "10.244.0.0/16"  # kwok's default pod CIDR: each fake node gets a /24 of it
MARK: Final = "ASGI_LAB_NETNS"  # set in the environment once inside: children know, and never enter twice
_CLONE_NEWNET: Final = 0x40000000
_CLONE_NEWUSER: Final = 0x10000000

_libc = ctypes.CDLL(None, use_errno=True)


class Unavailable(Exception):
    """No network namespace can be made here; the message says why."""


@dataclass(frozen=True)
class Namespace:
    how: str  # "root" or "user namespace"
    host_fd: int | None  # the machine's own network namespace, to go back to (root only)


_current: Namespace | None = None


def current() -> Namespace | None:
    """The namespace this process entered, if any."""
    return _current


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _map_user() -> None:
    """Inside a fresh user namespace: be root there, mapped to who we are outside (`unshare -r`)."""
    uid, gid = os.geteuid(), os.getegid()
    with contextlib.suppress(FileNotFoundError), open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _ip(*args: str) -> None:
    ip = shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip") if os.path.exists(p)), None)
    if ip is None:
        raise Unavailable("the `ip` command (Debian/Ubuntu package iproute2) is needed to set up the lab's network")
    out = subprocess.run([ip, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise Unavailable(f"ip {' '.join(args)} failed: {out.stderr.strip()}")


def enter() -> Namespace:
    """Move this process into a new network namespace with `lo` up and POD_CIDR local (see the module)."""
    global _current
    if _current is not None:
        return _current
    if os.environ.get(MARK):
        # started inside one (a child of a process that entered): the namespace is already set up
        _current = Namespace(os.environ[MARK], None)
        return _current
    host_fd: int | None = None
    try:
        host_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        _unshare(_CLONE_NEWNET)
        how = "root"
    except OSError as e:
        if host_fd is not None:
            os.close(host_fd)
            host_fd = None
        if e.errno not in (errno.EPERM, errno.EACCES):
            raise Unavailable(f"unshare(CLONE_NEWNET) failed: {e}") from e
        try:
            _unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
            _map_user()
        except OSError as e2:
            raise Unavailable(
                f"no network namespace: unshare(CLONE_NEWNET) needs root ({e.strerror}), and an unprivileged user "
                f"namespace was refused too ({e2.strerror}; see /proc/sys/user/max_user_namespaces, or "
                "kernel.apparmor_restrict_unprivileged_userns on Ubuntu)"
            ) from e2
        how = "user namespace"
    _ip("link", "set", "lo", "up")
    _ip("route", "add", "local", POD_CIDR, "dev", "lo")
    os.environ[MARK] = how
    _current = Namespace(how, host_fd)
    return _current


def outside_preexec() -> Callable[[], None]:
    """A `preexec_fn` that moves the child back into the machine's network namespace (for what needs the
    network during a test run: building an image); raises Unavailable where that cannot be done."""
    ns = _current
    if ns is None:
        return lambda: None
    if ns.host_fd is None:
        raise Unavailable(
            "this needs the machine's network, and the test run is in a network namespace it cannot leave "
            "(a user namespace, not root): build it before the run"
        )
    fd = ns.host_fd

    def back() -> None:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns back to the machine's network: {os.strerror(err)}")

    return back


def run_outside(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """subprocess.run (output captured, as text) in the machine's own network namespace; see `outside_preexec`."""
    fd = _current.host_fd if _current is not None else None
    child_env = {k: v for k, v in (env if env is not None else os.environ).items() if k != MARK}
    return subprocess.run(
        args,
        preexec_fn=outside_preexec(),
        pass_fds=(fd,) if fd is not None else (),
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
