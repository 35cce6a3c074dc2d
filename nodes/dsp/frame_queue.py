"""Fixed-capacity frame queues for the audio path (numba, no allocation).

A queue is a ring of rows (float64 [cap, width], or one row of a [queues, cap] array) and
its state int64 [3] = (read index, write index, count). Frames arrive in blocks and are
consumed one per hop; when a burst fills the ring, the oldest frame is dropped.
"""
from __future__ import annotations

from neuropatch.engine.jit import njit


@njit(cache=True)
def queue_slot(qstate, cap):
    """Reserve the row the next frame is written to (dropping the oldest frame when the
    queue is full) and count it as queued; returns the row index."""
    if qstate[2] == cap:
        qstate[0] = (qstate[0] + 1) % cap
        qstate[2] -= 1
    w = qstate[1]
    qstate[1] = (w + 1) % cap
    qstate[2] += 1
    return w


@njit(cache=True)
def queue_pop(qstate, cap):
    """Index of the oldest queued row (and remove it), or -1 when the queue is empty."""
    if qstate[2] == 0:
        return -1
    r = qstate[0]
    qstate[0] = (r + 1) % cap
    qstate[2] -= 1
    return r


@njit(cache=True)
def queue_push(ring, qstate, frames, count):
    """Append ``count`` frames (float32 [>= count, 1, width]) to ring float64 [cap, width]."""
    for k in range(count):
        w = queue_slot(qstate, ring.shape[0])
        for j in range(ring.shape[1]):
            ring[w, j] = frames[k, 0, j]
