"""Child processes that die with the process that started them.

Linux delivers a chosen signal to a process when its parent goes away
(``prctl(PR_SET_PDEATHSIG)``), however the parent ended: ``kill -9`` included. The engine
process and the batch workers use it so that a killed editor or driver leaves nothing that
holds the audio device or burns CPU. "Parent" is the thread that started the child: start
such children from a thread that lives as long as the process (the main thread).
Elsewhere (macOS, Windows) the call does nothing and the caller keeps its own watch.
"""
from __future__ import annotations

import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; returns whether the
    request is in place. Exits at once when the parent (`parent_pid`) is already gone."""
    try:
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL)) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    return True
