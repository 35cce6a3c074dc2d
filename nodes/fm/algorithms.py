"""The 32 algorithms of the Yamaha DX7: which operator modulates which, which ones are
heard, and where the feedback loop sits.

Operators are numbered 1..6 as on the DX7's panel. In every algorithm a modulator has a
higher number than the operator it modulates, so evaluating operators from 6 down to 1
sees each modulator's output of the current sample. Feedback takes the average of the
two previous outputs of the ``feedback_from`` operator into the phase of the
``feedback_to`` operator (the same operator, except in algorithms 4 and 6, where the loop
spans the stack 6 -> 5 -> 4 and 6 -> 5).
"""
from __future__ import annotations

import numpy as np

N_OPERATORS = 6
N_ALGORITHMS = 32

# (modulators of each operator, carriers, (feedback_to, feedback_from)), algorithm 1 first
ALGORITHMS = (
    ({1: (2,), 3: (4,), 4: (5,), 5: (6,)}, (1, 3), (6, 6)),
    ({1: (2,), 3: (4,), 4: (5,), 5: (6,)}, (1, 3), (2, 2)),
    ({1: (2,), 2: (3,), 4: (5,), 5: (6,)}, (1, 4), (6, 6)),
    ({1: (2,), 2: (3,), 4: (5,), 5: (6,)}, (1, 4), (6, 4)),
    ({1: (2,), 3: (4,), 5: (6,)}, (1, 3, 5), (6, 6)),
    ({1: (2,), 3: (4,), 5: (6,)}, (1, 3, 5), (6, 5)),
    ({1: (2,), 3: (4, 5), 5: (6,)}, (1, 3), (6, 6)),
    ({1: (2,), 3: (4, 5), 5: (6,)}, (1, 3), (4, 4)),
    ({1: (2,), 3: (4, 5), 5: (6,)}, (1, 3), (2, 2)),
    ({1: (2,), 2: (3,), 4: (5, 6)}, (1, 4), (3, 3)),
    ({1: (2,), 2: (3,), 4: (5, 6)}, (1, 4), (6, 6)),
    ({1: (2,), 3: (4, 5, 6)}, (1, 3), (2, 2)),
    ({1: (2,), 3: (4, 5, 6)}, (1, 3), (6, 6)),
    ({1: (2,), 3: (4,), 4: (5, 6)}, (1, 3), (6, 6)),
    ({1: (2,), 3: (4,), 4: (5, 6)}, (1, 3), (2, 2)),
    ({1: (2, 3, 5), 3: (4,), 5: (6,)}, (1,), (6, 6)),
    ({1: (2, 3, 5), 3: (4,), 5: (6,)}, (1,), (2, 2)),
    ({1: (2, 3, 4), 4: (5,), 5: (6,)}, (1,), (3, 3)),
    ({1: (2,), 2: (3,), 4: (6,), 5: (6,)}, (1, 4, 5), (6, 6)),
    ({1: (3,), 2: (3,), 4: (5, 6)}, (1, 2, 4), (3, 3)),
    ({1: (3,), 2: (3,), 4: (6,), 5: (6,)}, (1, 2, 4, 5), (3, 3)),
    ({1: (2,), 3: (6,), 4: (6,), 5: (6,)}, (1, 3, 4, 5), (6, 6)),
    ({2: (3,), 4: (6,), 5: (6,)}, (1, 2, 4, 5), (6, 6)),
    ({3: (6,), 4: (6,), 5: (6,)}, (1, 2, 3, 4, 5), (6, 6)),
    ({4: (6,), 5: (6,)}, (1, 2, 3, 4, 5), (6, 6)),
    ({2: (3,), 4: (5, 6)}, (1, 2, 4), (6, 6)),
    ({2: (3,), 4: (5, 6)}, (1, 2, 4), (3, 3)),
    ({1: (2,), 3: (4,), 4: (5,)}, (1, 3, 6), (5, 5)),
    ({3: (4,), 5: (6,)}, (1, 2, 3, 5), (6, 6)),
    ({3: (4,), 4: (5,)}, (1, 2, 3, 6), (5, 5)),
    ({5: (6,)}, (1, 2, 3, 4, 5), (6, 6)),
    ({}, (1, 2, 3, 4, 5, 6), (6, 6)),
)


def algorithm_tables() -> tuple:
    """(modulation uint8 [32, 6, 6], carriers uint8 [32, 6], feedback int64 [32, 2]), zero-based:
    modulation[a, dst, src] = 1 when operator src + 1 modulates dst + 1 in algorithm a + 1;
    feedback[a] = (operator receiving the feedback, operator it comes from)."""
    mod = np.zeros((N_ALGORITHMS, N_OPERATORS, N_OPERATORS), np.uint8)
    car = np.zeros((N_ALGORITHMS, N_OPERATORS), np.uint8)
    fb = np.zeros((N_ALGORITHMS, 2), np.int64)
    for a, (mods, carriers, (fb_to, fb_from)) in enumerate(ALGORITHMS):
        for dst, srcs in mods.items():
            for src in srcs:
                mod[a, dst - 1, src - 1] = 1
        for c in carriers:
            car[a, c - 1] = 1
        fb[a] = (fb_to - 1, fb_from - 1)
    return mod, car, fb


MODULATION, CARRIERS, FEEDBACK = algorithm_tables()


def carriers(algorithm: int) -> tuple:
    """The operators (1-based) heard in ``algorithm`` (1..32)."""
    return ALGORITHMS[algorithm - 1][1]


def modulators(algorithm: int, operator: int) -> tuple:
    """The operators (1-based) that modulate ``operator`` in ``algorithm``."""
    return ALGORITHMS[algorithm - 1][0].get(operator, ())
