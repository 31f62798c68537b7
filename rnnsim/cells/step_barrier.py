"""A barrier for the cells' threads inside a time loop, for kernels that split a step's work by units.

The fused kernels split the batch into one chunk of rows per thread, and those chunks never wait for
each other. A kernel that splits a step by hidden units instead (the LSTM at large U, lstm_units.py)
needs every thread's part of h_t before any thread starts step t+1: the threads meet at a barrier
once per step. It is a counter in memory that each thread increments atomically on arrival; a thread
then spins until the count reaches the step's target (`pause` between reads on x86), and after a
while of spinning gives its core away (`sched_yield`) in case the thread it waits for is not running.

Numba has no atomics for the CPU, so they are LLVM instructions here (`atomicrmw add`, an acquire
load). The arrival's sequentially consistent add orders everything the thread wrote before it
(its part of h_t) before the other threads' acquire load that sees the count.
"""

from __future__ import annotations

import platform
import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
YIELD = sys.platform != "win32"  # sched_yield is POSIX
SPINS_BEFORE_YIELD = 256  # ~10 us of pause instructions (one is ~40-140 cycles), then yield between reads


def new_counter() -> np.ndarray:
    """A zeroed arrival counter for one pass (padded to its own cache line)."""
    return np.zeros(8, np.int64)


def _counter_pointer(context, builder, array_type, value):
    if not (isinstance(array_type, types.Array) and array_type.dtype == types.int64):
        raise TypingError("the barrier counter is an int64 array")
    return context.make_array(array_type)(context, builder, value).data  # element 0


@intrinsic
def _arrive(typingctx, counter):
    """counter[0] += 1, atomically and sequentially consistent; returns the new count."""

    def codegen(context, builder, signature, args):
        pointer = _counter_pointer(context, builder, signature.args[0], args[0])
        one = ir.Constant(ir.IntType(64), 1)
        return builder.add(builder.atomic_rmw("add", pointer, one, "seq_cst"), one)

    return types.int64(counter), codegen


@intrinsic
def _count(typingctx, counter):
    """counter[0], an acquire load."""

    def codegen(context, builder, signature, args):
        pointer = _counter_pointer(context, builder, signature.args[0], args[0])
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(counter), codegen


@intrinsic
def _relax(typingctx, give_up_core):
    """One wait of a spin loop: `pause` on x86 (nothing elsewhere); sched_yield when `give_up_core`."""

    def codegen(context, builder, signature, args):
        if X86:
            pause = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                   "llvm.x86.sse2.pause")
            builder.call(pause, [])
        if YIELD:
            with builder.if_then(args[0], likely=False):
                sched_yield = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                                             "sched_yield")
                builder.call(sched_yield, [])
        return context.get_dummy_value()

    return types.void(types.boolean), codegen


@njit(nogil=True, cache=True)
def wait_for_all(counter, n_threads, generation):
    """Arrive at barrier number `generation` (1, 2, ... in order) of `n_threads` threads; return when all have."""
    if n_threads <= 1:
        return
    _arrive(counter)
    target = generation * n_threads
    spins = 0
    while _count(counter) < target:
        spins += 1
        _relax(spins > SPINS_BEFORE_YIELD)
