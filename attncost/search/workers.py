"""Who runs a trial: a worker's identity (``host:pid``), whether it is alive, and the
parent-death signal that keeps a killed search from leaving orphan workers."""

from __future__ import annotations

import os
import socket


def this_worker() -> str:
    """``host:pid`` of this process, recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive_worker(worker: str) -> bool:
    """Whether a ``host:pid`` worker is alive (a worker on another host, or one not yet
    recorded, is assumed alive; a database's heartbeat fails it if not)."""
    host, _, pid = worker.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return alive(int(pid))


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a killed ``attncost search``
    leaves no orphan workers); elsewhere the parent's shutdown handles it."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
