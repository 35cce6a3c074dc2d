"""Branch-free activation functions that LLVM vectorises (numba from pip has no SVML, so
``np.tanh`` in a loop stays a scalar libm call). The calling kernel must be compiled with
``error_model="numpy"``: under numba's default Python error model every division carries a
zero-divisor check and branch, and the loop stays scalar.

Two tanh flavours, both float32 in and out:

- :func:`tanh_exact`: clamped rational 13/6 minimax approximation (the one Eigen uses for
  float). Max abs error vs float64 ``tanh`` over [-10, 10]: 4.0e-7 (a few float32 ulp
  near 1; measured by ``tests/nodes/test_amp_kernels.py``). Default: streaming parity with
  the reference core holds to 1e-5.
- :func:`tanh_fast`: the reference core's ``fast_tanh`` rational (``NAM/activations.h``).
  Max abs error 4.4e-4 over [-10, 10] (same test); cheaper (7 flops, one division).

Sigmoid is derived from tanh: ``sigmoid(x) = 0.5 + 0.5 * tanh(x / 2)``.
"""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

_CLAMP = np.float32(7.90531110763549805)
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)

_F1 = np.float32(2.45550750702956)
_F2 = np.float32(0.893229853513558)
_F3 = np.float32(0.821226666969744)
_F4 = np.float32(2.44506634652299)
_F5 = np.float32(0.814642734961073)

_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)

#: activation codes (see nam_format.ACTIVATIONS)
TANH, HARDTANH, FASTTANH, RELU, LEAKY_RELU, SIGMOID, SILU, HARDSWISH, LEAKY_HARDTANH, SOFTSIGN = range(1, 11)


@njit(cache=True, inline="always")
def tanh_exact(x):
    """float32 -> float32 tanh, max abs error 4.0e-7 (clamped rational, vectorisable)."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = p * x2 + _A9
    p = p * x2 + _A7
    p = p * x2 + _A5
    p = p * x2 + _A3
    p = p * x2 + _A1
    p = x * p
    q = x2 * _B6 + _B4
    q = q * x2 + _B2
    q = q * x2 + _B0
    return p / q


@njit(cache=True, inline="always")
def tanh_fast(x):
    """float32 -> float32 tanh of the reference core (``fast_tanh``), max abs error 4.4e-4."""
    ax = abs(x)
    x2 = x * x
    return (x * (_F1 + _F1 * ax + (_F2 + _F3 * ax) * x2)
            / (_F4 + (_F4 + x2) * abs(x + _F5 * x * ax)))


@njit(cache=True, inline="always")
def tanh_mode(x, fast):
    return tanh_fast(x) if fast else tanh_exact(x)


@njit(cache=True, inline="always")
def sigmoid_mode(x, fast):
    return _HALF + _HALF * tanh_mode(_HALF * x, fast)


@njit(cache=True, fastmath=False, error_model="numpy")
def apply_activation(buf, count, code, params, fast):
    """In place on ``buf[:count]`` (float32, flat). ``params`` float32 [4]; ``fast`` selects
    the tanh flavour for Tanh/Sigmoid/SiLU. One branch per call, none per element."""
    if code == 0:
        return
    p0, p1, p2, p3 = params[0], params[1], params[2], params[3]
    if code == TANH:
        if fast:
            for i in range(count):
                buf[i] = tanh_fast(buf[i])
        else:
            for i in range(count):
                buf[i] = tanh_exact(buf[i])
    elif code == FASTTANH:
        for i in range(count):
            buf[i] = tanh_fast(buf[i])
    elif code == HARDTANH:
        for i in range(count):
            buf[i] = min(max(buf[i], -_ONE), _ONE)
    elif code == RELU:
        for i in range(count):
            buf[i] = max(buf[i], _ZERO)
    elif code == LEAKY_RELU:
        for i in range(count):
            v = buf[i]
            buf[i] = v if v > _ZERO else v * p0
    elif code == SIGMOID:
        if fast:
            for i in range(count):
                buf[i] = sigmoid_mode(buf[i], True)
        else:
            for i in range(count):
                buf[i] = sigmoid_mode(buf[i], False)
    elif code == SILU:
        if fast:
            for i in range(count):
                buf[i] = buf[i] * sigmoid_mode(buf[i], True)
        else:
            for i in range(count):
                buf[i] = buf[i] * sigmoid_mode(buf[i], False)
    elif code == HARDSWISH:
        for i in range(count):
            v = buf[i]
            buf[i] = v * min(max(v + np.float32(3.0), _ZERO), np.float32(6.0)) * np.float32(1.0 / 6.0)
    elif code == LEAKY_HARDTANH:
        for i in range(count):
            v = buf[i]
            if v < p0:
                buf[i] = (v - p0) * p2 + p0
            elif v > p1:
                buf[i] = (v - p1) * p3 + p1
    elif code == SOFTSIGN:
        for i in range(count):
            v = buf[i]
            buf[i] = v / (_ONE + abs(v))
