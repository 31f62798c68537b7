"""Waiting without sleeping: the compiled spin loops the cells' thread pool waits in (threads.py).

Handing a chunk to a thread that sleeps costs the wake-up of that thread. On a virtual machine a
thread that sleeps longer than the guest polls (the haltpoll driver's 50 microseconds) halts its
virtual CPU, and waking it is a trip through the host: 60-100 microseconds for the start of a chunk
on this project's KVM machines, as much again for the wait at its end (BENCHMARKS.md, round 8), a
few times per training step. OpenMP's threads spin for a while after each parallel region for the
same reason (OMP_WAIT_POLICY, KMP_BLOCKTIME).

`wait_while_equal` polls one int64 of an array, with the GIL released, until it differs from a
value or a number of polls has passed; the pool calibrates that number to a length of time
(`polls_for`). Each poll is an atomic load with acquire ordering, which the compiler cannot hoist
out of the loop (a plain load it may), followed by the CPU's spin hint (x86 `pause`, ARM `yield`),
which leaves the core's other hardware thread its share and saves power.
"""

from __future__ import annotations

import platform
import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from rnnsim.cells.floating_point import X86

_ARM64 = platform.machine().lower() in ("aarch64", "arm64")


def _check_flags(array, name):
    if not (isinstance(array, types.Array) and array.ndim == 1 and array.dtype == types.int64):
        raise TypingError(f"{name} takes a 1-D int64 array")


def _item_pointer(context, builder, signature, args):
    """The address of args[0][args[1]], a 1-D array's element."""
    array_type = signature.args[0]
    values = context.make_array(array_type)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, array_type, values, [args[1]])


@intrinsic
def _load_acquire(typingctx, array, index):
    """array[index] of a 1-D int64 array as an atomic load (acquire): read again at every call."""
    _check_flags(array, "_load_acquire")
    sig = types.int64(array, types.intp)

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_item_pointer(context, builder, signature, args), "acquire", 8)

    return sig, codegen


@intrinsic
def _spin_hint(typingctx):
    """The CPU's hint that this is a spin loop (x86 `pause`, ARM `yield`); nothing elsewhere."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        module = builder.module
        if X86:
            hint = cgutils.get_or_insert_function(module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(hint, [])
        elif _ARM64:
            hint = cgutils.get_or_insert_function(module, ir.FunctionType(ir.VoidType(), [ir.IntType(32)]),
                                                  "llvm.aarch64.hint")
            builder.call(hint, [ir.Constant(ir.IntType(32), 1)])  # 1: YIELD
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _store_release(typingctx, array, index, value):
    """array[index] = value for a 1-D int64 array, as an atomic store (release)."""
    _check_flags(array, "_store_release")
    sig = types.void(array, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        builder.store_atomic(args[2], _item_pointer(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@njit(nogil=True, cache=True)
def wait_while_equal(flags, index, value, polls, grace):
    """Poll flags[index] until it differs from `value` or `polls` polls have passed; return what it holds.

    After a change it polls `grace` times more (the hint only) before it returns: the thread that made
    the change can then let go of the GIL, which this one takes on its return, without handing it over.
    """
    current = _load_acquire(flags, index)
    for _ in range(polls):
        if current != value:
            for _ in range(grace):
                _spin_hint()
            return current
        _spin_hint()
        current = _load_acquire(flags, index)
    return current


@njit(nogil=True, cache=True)
def store(flags, index, value):
    """flags[index] = value, written with the GIL released: a thread that polls for it and then takes the
    GIL finds it free (written from Python, the GIL is still held when the poll sees the value)."""
    _store_release(flags, index, value)


_seconds_per_poll = None


def polls_for(seconds: float) -> int:
    """How many polls of `wait_while_equal` take about `seconds` on this CPU (measured once per process)."""
    global _seconds_per_poll
    if _seconds_per_poll is None:
        flags = np.zeros(8, np.int64)
        wait_while_equal(flags, 0, 0, 1, 0)  # compiled (or loaded from the cache) before it is timed
        best = float("inf")
        for _ in range(3):  # the fastest of three: a descheduled moment makes a poll look slower than it is
            start = time.perf_counter()
            wait_while_equal(flags, 0, 0, 20_000, 0)
            best = min(best, time.perf_counter() - start)
        _seconds_per_poll = max(best / 20_000, 1e-9)
    return max(1, int(seconds / _seconds_per_poll))
