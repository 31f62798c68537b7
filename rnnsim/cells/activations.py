"""Activation functions: by Keras name, in NumPy and as Numba building blocks.

Every activation's derivative is written in terms of its *output* y, so the backward pass
needs only what the forward pass stored:

    name          f(x)                          f'(x) as a function of y = f(x)
    linear        x                             1
    tanh          tanh(x)                       1 - y^2
    sigmoid       1 / (1 + exp(-x))             y (1 - y)
    hard_sigmoid  clip(x / 6 + 1/2, 0, 1)       1/6 where 0 < y < 1, else 0   (Keras 3)
    relu          max(x, 0)                     1 where y > 0, else 0

The kernels pick an activation by a small integer code (`CODES`), branching once outside the
inner loop so each branch vectorizes.

Speed note: llvmlite from PyPI has no vector math library, so `math.tanh` and `math.exp`
stay scalar inside Numba loops. For float32 work the kernels use a rational approximation
of tanh (max error about 2e-7, below float32's own rounding of tanh, which is ~6e-8 relative)
that does vectorize; sigmoid(x) = (1 + tanh(x / 2)) / 2. For float64 (the gradient checks)
they use the exact libm functions, so the float64 kernels agree with NumPy to ~1e-15.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rnnsim.errors import InputError

LINEAR, TANH, SIGMOID, HARD_SIGMOID, RELU = 0, 1, 2, 3, 4

CODES = {
    "linear": LINEAR,
    "tanh": TANH,
    "sigmoid": SIGMOID,
    "hard_sigmoid": HARD_SIGMOID,
    "relu": RELU,
}


def code(name: str | None) -> int:
    """The kernel code of an activation given by Keras name (None means linear)."""
    key = "linear" if name is None else str(name).lower()
    if key not in CODES:
        raise InputError(f"unknown activation {name!r}; choose one of {', '.join(CODES)}")
    return CODES[key]


# ---------------------------------------------------------------------------------------
# NumPy versions: used by the reference implementation, Dense and the tests.


def apply(name: str | None, x: np.ndarray) -> np.ndarray:
    c = code(name)
    if c == TANH:
        return np.tanh(x)
    if c == SIGMOID:
        return 1.0 / (1.0 + np.exp(-x))
    if c == HARD_SIGMOID:
        return np.clip(x / 6.0 + 0.5, 0.0, 1.0)
    if c == RELU:
        return np.maximum(x, 0.0)
    return x.copy()


def derivative_from_output(name: str | None, y: np.ndarray) -> np.ndarray:
    c = code(name)
    if c == TANH:
        return 1.0 - y * y
    if c == SIGMOID:
        return y * (1.0 - y)
    if c == HARD_SIGMOID:
        return np.where((y > 0.0) & (y < 1.0), 1.0 / 6.0, 0.0).astype(y.dtype)
    if c == RELU:
        return (y > 0.0).astype(y.dtype)
    return np.ones_like(y)


# ---------------------------------------------------------------------------------------
# Numba building blocks.

# Coefficients as float32 constants: with Python floats Numba would compute the float32 case in
# float64 (a conversion per element, half the vector width).
_F32 = np.float32
_TANH_CLAMP = _F32(7.90531110763549805)  # beyond this the rational form saturates at +-1 in float32
_NEG_TANH_CLAMP = _F32(-7.90531110763549805)
_P13, _P11, _P9, _P7 = _F32(-2.76076847742355e-16), _F32(2.00018790482477e-13), _F32(-8.60467152213735e-11), \
    _F32(5.12229709037114e-08)
_P5, _P3, _P1 = _F32(1.48572235717979e-05), _F32(6.37261928875436e-04), _F32(4.89352455891786e-03)
_Q6, _Q4, _Q2, _Q0 = _F32(1.19825839466702e-06), _F32(1.18534705686654e-04), _F32(2.26843463243900e-03), \
    _F32(4.89352518554385e-03)
_HALF = _F32(0.5)


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def fast_tanh(x):
    """Rational approximation of tanh (degree 13 / 6), vectorizable; abs error < 3e-7."""
    x = min(max(x, _NEG_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = x2 * _P13 + _P11
    p = x2 * p + _P9
    p = x2 * p + _P7
    p = x2 * p + _P5
    p = x2 * p + _P3
    p = x2 * p + _P1
    p = x * p
    q = x2 * _Q6 + _Q4
    q = x2 * q + _Q2
    q = x2 * q + _Q0
    return p / q


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def fast_sigmoid(x):
    """sigmoid(x) = (1 + tanh(x / 2)) / 2 on `fast_tanh`, for float32."""
    return _HALF + _HALF * fast_tanh(_HALF * x)


@njit(error_model="numpy", cache=True, fastmath={"contract"})
def activate(act_code, fast, buffer, start, stop):
    """Apply activation `act_code` in place to buffer[start:stop] (a 1-D array).

    The loops run over a slice view from 0: with `range(start, stop)` Numba cannot prove the
    index non-negative, keeps its wraparound check, and the loop does not vectorize (14x slower).
    """
    view = buffer[start:stop]
    n = view.shape[0]
    if act_code == TANH:
        if fast:
            for k in range(n):
                view[k] = fast_tanh(view[k])
        else:
            for k in range(n):
                view[k] = math.tanh(view[k])
    elif act_code == SIGMOID:
        if fast:
            for k in range(n):
                view[k] = fast_sigmoid(view[k])
        else:
            for k in range(n):
                view[k] = 1.0 / (1.0 + math.exp(-view[k]))
    elif act_code == HARD_SIGMOID:
        for k in range(n):
            value = view[k] / 6.0 + 0.5
            view[k] = min(max(value, 0.0), 1.0)
    elif act_code == RELU:
        for k in range(n):
            view[k] = max(view[k], 0.0)


@njit(inline="always", error_model="numpy")
def derivative_scalar(act_code, y):
    """f'(x) written in terms of y = f(x)."""
    if act_code == TANH:
        return 1.0 - y * y
    if act_code == SIGMOID:
        return y * (1.0 - y)
    if act_code == HARD_SIGMOID:
        return 1.0 / 6.0 if (y > 0.0 and y < 1.0) else 0.0
    if act_code == RELU:
        return 1.0 if y > 0.0 else 0.0
    return 1.0
