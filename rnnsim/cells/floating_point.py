"""Denormal numbers flushed to zero while the cells compute, on the threads that compute them.

A vanishing gradient is the point of this simulator, and on its way to zero it passes through the
denormal floats (below 1.2e-38 in float32): a GRU(32) trained on 240 steps had 15% of its per-step
gradients there. Intel CPUs take a microcode assist of about a hundred cycles for each arithmetic
operation on a denormal (AMD's Zen cores do not), so those steps ran several times slower, in the
kernels and in BLAS alike (BENCHMARKS.md, round 5). With the x86 control bits FTZ (results that would
be denormal become 0) and DAZ (denormal inputs read as 0) set, they run at full speed. Values that
small carry nothing a float32 model can learn from; the trace's gradient norms were already 0 below
about 1e-19, where their squares underflow.

The bits belong to a thread: `denormals_flushed()` sets them on the calling thread for the length of
a cell's pass and puts the previous ones back; the cells' own worker threads set them once, when they
start (`flush_this_thread`, threads.py). Every thread that computes part of a pass has them, so the
numbers stay the same on any thread count. On CPUs other than x86 this does nothing (ARM cores
handle denormals in hardware at speed, and their flush bit is another register).
"""

from __future__ import annotations

import contextlib
import platform

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
FLUSH_BITS = (1 << 15) | (1 << 6)  # MXCSR's FTZ and DAZ


def _mxcsr_call(builder, name, slot):
    module = builder.module
    function = module.globals.get(name)
    if function is None:
        function = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()]), name)
    builder.call(function, [builder.bitcast(slot, ir.IntType(8).as_pointer())])


@intrinsic
def _read_control(typingctx):
    """The calling thread's MXCSR (0 where the CPU has none)."""

    def codegen(context, builder, signature, args):
        if not X86:
            return ir.Constant(ir.IntType(32), 0)
        slot = builder.alloca(ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.int32(), codegen


@intrinsic
def _write_control(typingctx, value):
    """Set the calling thread's MXCSR to the low 32 bits of an integer (nothing where the CPU has none)."""
    if not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        if X86:
            word = args[0]
            if word.type.width > 32:
                word = builder.trunc(word, ir.IntType(32))
            elif word.type.width < 32:
                word = builder.zext(word, ir.IntType(32))
            slot = builder.alloca(ir.IntType(32))
            builder.store(word, slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(value), codegen


@njit(cache=True)
def _swap_control(flush, previous):
    """Flush (FTZ and DAZ on) or put `previous` back; returns the control word as it was."""
    current = _read_control()
    if flush:
        _write_control(current | FLUSH_BITS)
    else:
        _write_control(previous)
    return current


def flush_this_thread() -> int:
    """Denormals flushed on the calling thread from now on; returns the control word it had."""
    return int(_swap_control(True, 0))


def control_word() -> int:
    """The calling thread's control word (MXCSR; 0 off x86)."""
    current = int(_swap_control(True, 0))
    _swap_control(False, current)
    return current


@contextlib.contextmanager
def denormals_flushed():
    """Denormals flushed to zero on the calling thread inside the block (about 1 microsecond in and out)."""
    previous = _swap_control(True, 0)
    try:
        yield
    finally:
        _swap_control(False, previous)
