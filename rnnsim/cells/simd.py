"""The register-blocked micro-kernel of the recurrent product, written as LLVM vector IR, at the
widest vector width the CPU has.

At the tutorial's sizes the recurrent product h_{t-1} U is small, (R, 32) @ (32, G*32) for one
thread's R batch rows, and it runs T times in sequence. A plain Numba triple loop is slow on it:
LLVM vectorizes the innermost loop, but the output rows are loaded and stored again for every k. A
BLAS-style micro-kernel keeps a tile of the output in vector registers for the whole k loop instead:

    for each tile of MR rows x 2 vectors of columns of C:
        acc[i][v] = C[i, cols v]   (or 0)               MR x 2 vector registers
        for k in range(K):
            b0, b1 = B[k, cols 0], B[k, cols 1]         two vector loads
            for i in range(MR):
                a = broadcast(A[i, k])                  one scalar load
                acc[i][0] += a * b0;  acc[i][1] += a * b1   two fused multiply-adds
        C[i, cols v] = acc[i][v]

Numba has no SIMD types, so the tile is LLVM IR written here with explicit vectors, as one
out-of-line function per tile shape and dtype (`_tile_function`), called through Numba intrinsics.
`llvm.fmuladd` lets LLVM emit one FMA instruction per multiply-add where the CPU has FMA (the same
rounding choice as the kernels' `fastmath={"contract"}`).

The vector width (`ISA`), chosen once per process at import from the features Numba compiles for
(the CPU's, or NUMBA_CPU_NAME / NUMBA_CPU_FEATURES), or forced with RNNSIM_SIMD=avx512|avx2|generic:

    avx512   64-byte vectors (32 zmm registers): 12-row tiles, 24 accumulators; strips of 128 bytes
    avx2     32-byte vectors (16 ymm registers): 4-row tiles, 8 accumulators; strips of 64 bytes
    generic  16-byte vectors (SSE2, NEON, ...):  4-row tiles; strips of 32 bytes

Any choice is correct on any CPU (LLVM splits a vector the CPU does not have into ones it has), only
slower. The choice is carried by the data, never baked into compiled code: `pack_columns` cuts B
into strips of two vectors' width, and `matmul_packed_into` picks the tile from the width of the
strips it is given (every tile is compiled in). So packing and tile always agree, and a kernel in
Numba's on-disk cache is right whatever RNNSIM_SIMD says; the cache itself is keyed by the target
CPU's name and features (Numba's `codegen.magic_tuple`), so one CPU's code is never loaded on another.

`matmul_packed_into` covers a row range with tiles strip by strip: smaller tiles for the rows beyond
a multiple of MR, and a last strip narrower than two vectors computed whole (its padding is zeros)
into a scratch block. So every element of C, for every shape and every way of cutting B into
column blocks, is the same chain of multiply-adds in the same order; the tests compare it with numpy.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from rnnsim.cells import threads

FASTMATH = {"contract"}
ISAS = ("avx512", "avx2", "generic")
VECTOR_BYTES_OF = {"avx512": 64, "avx2": 32, "generic": 16}
TILE_ROWS_OF = {"avx512": 12, "avx2": 4, "generic": 4}  # MR: 2*MR accumulators (AVX2: half its 16 registers)
ENV_VAR = "RNNSIM_SIMD"


def isa_from_features(features: str) -> str:
    """The widest vector set a CPU feature string ('+avx2,+fma,-avx512f,...', as LLVM writes it) offers."""
    enabled = {flag[1:] for flag in features.split(",") if flag.startswith("+")}
    if "avx512f" in enabled:
        return "avx512"
    if {"avx2", "fma"} <= enabled:
        return "avx2"
    return "generic"


def target_features() -> str:
    """The CPU features Numba compiles for: NUMBA_CPU_FEATURES when set, else what the CPU reports."""
    from llvmlite import binding
    from numba.core import config

    if config.CPU_FEATURES is not None:
        return config.CPU_FEATURES
    try:
        return binding.get_host_cpu_features().flatten()
    except RuntimeError:  # llvmlite cannot read the features on this platform
        return ""


def choose_isa(forced: str | None, features: str) -> str:
    """RNNSIM_SIMD's value when it names a choice, else the widest the features offer."""
    if forced:
        key = forced.strip().lower()
        if key in ISAS:
            return key
        warnings.warn(f"{ENV_VAR}={forced!r} is not one of {', '.join(ISAS)}; using the CPU's widest vectors",
                      stacklevel=2)
    return isa_from_features(features)


ISA = choose_isa(os.environ.get(ENV_VAR), target_features())  # once per process: packing follows it
VECTOR_BYTES = VECTOR_BYTES_OF[ISA]
TILE_ROWS = TILE_ROWS_OF[ISA]


def _element_pointer(builder, base, row, row_stride, col):
    """&array[row, col] for a 2-D array whose last axis is contiguous (strides in elements)."""
    offset = builder.add(builder.mul(row, row_stride), col)
    return builder.gep(base, [offset])


def _tile_function(module, scalar, itemsize, rows, vector_bytes, prefetch=False):
    """The LLVM function computing one tile, defined once per module:

        void tile(a, a_stride, a_depth, a2, a2_stride, a2_depth, b, b_stride, c, c_stride, accumulate)
        c[0:rows, 0:2W] (+)= [a, a2][0:rows, :] @ b[0:a_depth + a2_depth, 0:2W]   (pointers at the tile's origin)

    The left operand comes in two pieces side by side, a's a_depth columns then a2's a2_depth: the
    LSTM's [x_t, h_{t-1}] [W; U] without copying x_t and h_{t-1} into one array. The k loop runs over
    a, then on over a2 with the same accumulators: the chain of multiply-adds of the joined product
    (and of x_t W followed by += h_{t-1} U, whose partial sums stored in between are exact). A product
    of one left operand passes a2_depth = 0.

    With `prefetch`, each k also prefetches row k of what follows b in the packing (b + depth rows,
    depth = a_depth + a2_depth: the strip's next block of depth, or the next strip, since packed strips
    are contiguous) into L2 (`llvm.prefetch`, locality 2: prefetcht1 on x86), one per cache line.

    It is kept out of line (`noinline`): inlined at every call site of every kernel, the unrolled
    tile about doubled the kernels' compile time, for a call that costs a few cycles against the
    tile's 256+ multiply-adds. `linkonce_odr` lets every compiled module carry its copy without
    clashing when Numba links them.
    """
    lanes = vector_bytes // itemsize
    vector = ir.VectorType(scalar, lanes)
    name = f"rnnsim_simd_tile2_{rows}x{2 * lanes}_{_suffix(vector)}{'_pf' if prefetch else ''}"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    intp = ir.IntType(64)
    pointer = scalar.as_pointer()
    function = ir.Function(
        module,
        ir.FunctionType(ir.VoidType(), [pointer, intp, intp, pointer, intp, intp, pointer, intp, pointer, intp,
                                        ir.IntType(1)]),
        name,
    )
    function.linkage = "linkonce_odr"
    function.attributes.add("noinline")
    a_ptr, a_stride, a_depth, a2_ptr, a2_stride, a2_depth, b_ptr, b_stride, c_ptr, c_stride, acc_flag = function.args
    builder = ir.IRBuilder(function.append_basic_block("entry"))
    vector_ptr = vector.as_pointer()
    fmuladd = cgutils.get_or_insert_function(
        module, ir.FunctionType(vector, [vector, vector, vector]), f"llvm.fmuladd.{_suffix(vector)}"
    )
    zero_index = ir.Constant(intp, 0)
    second = ir.Constant(intp, lanes)
    depth = builder.add(a_depth, a2_depth)

    def vector_at(base, r, stride, col):
        return builder.bitcast(_element_pointer(builder, base, r, stride, col), vector_ptr)

    c_rows = [ir.Constant(intp, i) for i in range(rows)]
    c_slots = [(vector_at(c_ptr, r, c_stride, zero_index), vector_at(c_ptr, r, c_stride, second)) for r in c_rows]

    # accumulators: allocas that LLVM's mem2reg turns into registers
    accumulators = []
    zero = ir.Constant(vector, [ir.Constant(scalar, 0.0)] * lanes)
    for slots in c_slots:
        pair = []
        for slot in slots:
            acc = cgutils.alloca_once(builder, vector)
            with builder.if_else(acc_flag) as (then, otherwise):
                with then:
                    builder.store(builder.load(slot, align=itemsize), acc)
                with otherwise:
                    builder.store(zero, acc)
            pair.append(acc)
        accumulators.append(pair)

    undef = ir.Constant(vector, ir.Undefined)
    splat_mask = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
    if prefetch:
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        prefetch_fn = cgutils.get_or_insert_function(
            module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]), "llvm.prefetch.p0"
        )
        lines = [ir.Constant(intp, (64 // itemsize) * j) for j in range(max(1, 2 * vector_bytes // 64))]
    for source, source_stride, source_depth, first_row in (
            (a_ptr, a_stride, a_depth, zero_index), (a2_ptr, a2_stride, a2_depth, a_depth)):
        with cgutils.for_range(builder, source_depth) as loop:
            k = loop.index  # column k of this piece of the left operand, row first_row + k of b
            b_row = builder.add(first_row, k)
            if prefetch:  # row b_row of the next strip, into L2
                ahead = builder.add(b_row, depth)
                for line in lines:
                    address = builder.bitcast(_element_pointer(builder, b_ptr, ahead, b_stride, line), byte_ptr)
                    builder.call(prefetch_fn, [address, ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)])
            b0 = builder.load(vector_at(b_ptr, b_row, b_stride, zero_index), align=itemsize)
            b1 = builder.load(vector_at(b_ptr, b_row, b_stride, second), align=itemsize)
            for i, r in enumerate(c_rows):
                a_scalar = builder.load(_element_pointer(builder, source, r, source_stride, k))
                a_vec = builder.insert_element(undef, a_scalar, ir.Constant(ir.IntType(32), 0))
                a_vec = builder.shuffle_vector(a_vec, undef, splat_mask)
                for acc, b_vec in zip(accumulators[i], (b0, b1)):
                    builder.store(builder.call(fmuladd, [a_vec, b_vec, builder.load(acc)]), acc)

    for slots, pair in zip(c_slots, accumulators):
        for slot, acc in zip(slots, pair):
            builder.store(builder.load(acc), slot, align=itemsize)
    builder.ret_void()
    return function


def _make_tile(rows, vector_bytes, prefetch=False):
    """An intrinsic computing C[r:r+rows, j:j+2*W] (+)= [A, A2][r:r+rows, :] @ B[:, j:j+2*W], W = lanes per
    vector (A2 may have no columns)."""

    @intrinsic
    def tile(typingctx, a, a2, b, c, row, col, accumulate):
        arrays = (a, a2, b, c)
        if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays):
            raise TypingError("the SIMD tile takes four 2-D arrays")
        dtype = a.dtype
        if dtype not in (types.float32, types.float64) or any(x.dtype != dtype for x in arrays):
            raise TypingError("the SIMD tile takes float32 or float64 arrays of one dtype")
        sig = types.void(a, a2, b, c, types.intp, types.intp, types.boolean)

        def codegen(context, builder, signature, args):
            a_val, a2_val, b_val, c_val, row_val, col_val, acc_flag = args
            scalar = context.get_value_type(dtype)
            itemsize = context.get_abi_sizeof(scalar)
            intp = context.get_value_type(types.intp)

            def unpack(array_type, value):
                array = context.make_array(array_type)(context, builder, value)
                shape = cgutils.unpack_tuple(builder, array.shape, 2)
                strides = cgutils.unpack_tuple(builder, array.strides, 2)
                row_stride = builder.sdiv(strides[0], ir.Constant(intp, itemsize))  # bytes -> elements
                return array.data, row_stride, shape

            a_ptr, a_stride, (_, a_depth) = unpack(a, a_val)
            a2_ptr, a2_stride, (_, a2_depth) = unpack(a2, a2_val)
            b_ptr, b_stride, _ = unpack(b, b_val)
            c_ptr, c_stride, _ = unpack(c, c_val)
            zero = ir.Constant(intp, 0)
            function = _tile_function(builder.module, scalar, itemsize, rows, vector_bytes, prefetch)
            builder.call(function, [
                _element_pointer(builder, a_ptr, row_val, a_stride, zero), a_stride, a_depth,
                _element_pointer(builder, a2_ptr, row_val, a2_stride, zero), a2_stride, a2_depth,
                _element_pointer(builder, b_ptr, zero, b_stride, col_val), b_stride,
                _element_pointer(builder, c_ptr, row_val, c_stride, col_val), c_stride,
                acc_flag,  # a boolean argument is an i1 in Numba's lowering
            ])
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _suffix(vector):
    kind = "f32" if vector.element == ir.FloatType() else "f64"
    return f"v{vector.count}{kind}"


# One set of tiles per vector width: the full tile, smaller ones for what is left (avx512), one row;
# and the full tiles again, prefetching the next strip (the `_pf` ones, see `_strip_rows`).
_tile_z12, _tile_z8, _tile_z4, _tile_z1 = _make_tile(12, 64), _make_tile(8, 64), _make_tile(4, 64), _make_tile(1, 64)
_tile_z12_pf, _tile_z8_pf = _make_tile(12, 64, prefetch=True), _make_tile(8, 64, prefetch=True)
_tile_y4, _tile_y1, _tile_y4_pf = _make_tile(4, 32), _make_tile(1, 32), _make_tile(4, 32, prefetch=True)
_tile_x4, _tile_x1 = _make_tile(4, 16), _make_tile(1, 16)

# A product whose packed B is at least this large prefetches: at U = 256 the LSTM's recurrent kernel is 1 MB
# and the input kernel 0.5 MB; at U = 32 (16 KB) everything stays in L1 and a prefetch would only take a slot.
PREFETCH_MIN_BYTES = 1 << 18
# The product's depth is cut into blocks of at most this many bytes of a strip (256 rows of float32 at avx512),
# so a tile's block of B stays in L1 (48 KB here) while the strip's row tiles use it; each block's partial
# sums are stored and reloaded exactly (the same bits). LSTM(256)'s [x_t, h_{t-1}] [W; U] (K = 384) and
# LSTM(512)'s (K = 640), B32, one thread, alternating in one process: +1-3% and +3-5% (BENCHMARKS.md round 7).
K_BLOCK_BYTES = 1 << 15


@njit(inline="always")
def _strip_rows(a, a2, b, c_strip, r0, r1, accumulate, strip_bytes, prefetch):
    """c_strip[r0:r1] (+)= [a, a2][r0:r1] @ b for one whole packed strip, with the tile of the strip's width.

    With `prefetch`, the first tile also asks for the rows that follow b in the packing (the strip's next
    block of depth, or the next strip's first: packed strips are contiguous), one row per k, into L2: the
    next block's tiles then find in L2 what they would otherwise wait for from L3 (an LSTM(512)'s packed
    [W; U], 5 MB, is read from L3 at every step). Only the first tile: the others would ask for the same
    lines again, a load slot each (LSTM(512)'s joined product, B32, one thread: 136-146 GFLOP/s with every
    tile prefetching, 139-148 with the first only). A prefetch never faults and changes no number.
    """
    r = r0
    if strip_bytes == 2 * 64:
        while r + 12 <= r1:
            if prefetch and r == r0:
                _tile_z12_pf(a, a2, b, c_strip, r, 0, accumulate)
            else:
                _tile_z12(a, a2, b, c_strip, r, 0, accumulate)
            r += 12
        if r + 8 <= r1:
            if prefetch and r == r0:
                _tile_z8_pf(a, a2, b, c_strip, r, 0, accumulate)
            else:
                _tile_z8(a, a2, b, c_strip, r, 0, accumulate)
            r += 8
        if r + 4 <= r1:
            _tile_z4(a, a2, b, c_strip, r, 0, accumulate)
            r += 4
        while r < r1:
            _tile_z1(a, a2, b, c_strip, r, 0, accumulate)
            r += 1
    elif strip_bytes == 2 * 32:
        while r + 4 <= r1:
            if prefetch and r == r0:
                _tile_y4_pf(a, a2, b, c_strip, r, 0, accumulate)
            else:
                _tile_y4(a, a2, b, c_strip, r, 0, accumulate)
            r += 4
        while r < r1:
            _tile_y1(a, a2, b, c_strip, r, 0, accumulate)
            r += 1
    else:
        while r + 4 <= r1:
            _tile_x4(a, a2, b, c_strip, r, 0, accumulate)
            r += 4
        while r < r1:
            _tile_x1(a, a2, b, c_strip, r, 0, accumulate)
            r += 1


# ---------------------------------------------------------------------------------------------
# The packed right-hand side.
#
# Read in place, a tile's column strip of B is K short pieces one row of B apart: at U = 256 (the
# LSTM's (U, 4U) recurrent kernel) rows are 4 KB apart, so all K lines fall in the same L1 set (the
# cache thrashes) and each on its own page. Packed, each strip is one contiguous (K, 2W) block
# that stays in cache while every row tile of the chunk uses it.


def strip_width(dtype, isa: str | None = None) -> int:
    """Columns per packed strip: two vectors of `dtype` at `isa`'s width (default: this process's ISA),
    e.g. 32 float32 / 16 float64 for avx512, 16 / 8 for avx2."""
    return 2 * (VECTOR_BYTES_OF[isa or ISA] // np.dtype(dtype).itemsize)


def pack_columns(b, isa: str | None = None):
    """B (K, N) -> (S, K, 2W) strips of 2W columns each (the last zero-padded), S = ceil(N / 2W)."""
    return pack_stacked((b,), isa)


def pack_stacked(blocks, isa: str | None = None, out=None):
    """`pack_columns` of the blocks stacked by rows, np.vstack(blocks), without making the stack: the LSTM's
    [W; U] (D + U, 4U), so that [x_t, h_{t-1}] [W; U] is one product (one pass over C, K = D + U long).
    `out`: a C-contiguous array of `packed_shape(blocks)` and their dtype to pack into, else a new one."""
    blocks = tuple(blocks)
    shape, dtype = packed_shape(blocks, isa), blocks[0].dtype
    if out is None:
        out = np.empty(shape, dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"pack_stacked packs into a C-contiguous {dtype} array of shape {shape}")
    # the strips shared out over the threads, all the blocks in one run (handing work to a thread costs
    # ~20-80 us: LSTM(256)'s [W; U] took 0.35 ms packed block by block, two runs)
    size = sum(block.size for block in blocks)
    n_chunks = min(threads.get_num_threads(), shape[0]) if size >= PACK_SPLIT_ELEMENTS else 1
    if len(blocks) == 2:
        threads.run_chunks(_pack_pair, n_chunks, blocks[0], blocks[1], out, *(_by_columns(b) for b in blocks))
        return out
    top = 0
    for block in blocks:
        threads.run_chunks(_pack_into, n_chunks, block, out, top, _by_columns(block))
        top += block.shape[0]
    return out


def _by_columns(block) -> bool:
    return block.strides[0] < block.strides[1]


@njit(cache=True, nogil=True)
def _pack_pair(chunk, n_chunks, top_block, bottom_block, packed, top_by_columns, bottom_by_columns):
    _pack_into(chunk, n_chunks, top_block, packed, 0, top_by_columns)
    _pack_into(chunk, n_chunks, bottom_block, packed, top_block.shape[0], bottom_by_columns)


def packed_shape(blocks, isa: str | None = None) -> tuple[int, int, int]:
    """The shape of `pack_stacked(blocks, isa)`: (strips, rows of all the blocks, columns per strip)."""
    width, dtype = blocks[0].shape[1], blocks[0].dtype
    if any(block.shape[1] != width or block.dtype != dtype for block in blocks):
        raise ValueError("pack_stacked takes blocks of one width and dtype")
    strip = strip_width(dtype, isa)
    return -(-width // strip), sum(block.shape[0] for block in blocks), strip


PACK_SPLIT_ELEMENTS = 1 << 17  # from 512 KB of float32 (an LSTM(128)'s recurrent kernel) the packing is shared out


@njit(cache=True, nogil=True)
def _pack_into(chunk, n_chunks, b, packed, top, by_columns):
    """This chunk's strips of B into rows top.. of `packed`, in the order of B's memory: `by_columns` for a
    transposed view such as U^T; else 8 rows of B at a time across all the chunk's strips, so that B is read
    row by row (a strip's column block alone is K pieces a row apart, each on its own page)."""
    depth, width = b.shape
    n_strips, _, strip = packed.shape
    per_chunk = (n_strips + n_chunks - 1) // n_chunks
    first, last = chunk * per_chunk, min(n_strips, (chunk + 1) * per_chunk)
    if by_columns:
        for s in range(first, last):
            j0 = s * strip
            n = min(strip, width - j0)
            block = packed[s]
            for jj in range(n):
                for k in range(depth):
                    block[top + k, jj] = b[k, j0 + jj]
            for k in range(depth):
                for jj in range(n, strip):
                    block[top + k, jj] = 0.0
        return
    for k0 in range(0, depth, 8):
        for s in range(first, last):
            j0 = s * strip
            n = min(strip, width - j0)
            for k in range(k0, min(k0 + 8, depth)):
                row, source = packed[s, top + k], b[k]
                for jj in range(n):
                    row[jj] = source[j0 + jj]
                for jj in range(n, strip):
                    row[jj] = 0.0


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def matmul_packed_into(a, b_packed, c, r0, r1, accumulate):
    """c[r0:r1] = a[r0:r1] @ B, or += when `accumulate`, with B given as `pack_columns(B)`.

    a (R, K), b_packed (S, K, 2W), c (R, N) with N <= S * 2W; last axes contiguous. The tile is the
    one for the strips' width in bytes (2W times the item size), whichever ISA packed them.
    """
    _matmul_packed(a, a[:, :0], b_packed, c, r0, r1, accumulate)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def matmul_joined_into(a, a2, b_packed, c, r0, r1, accumulate):
    """c[r0:r1] = [a, a2][r0:r1] @ B (or +=): a (R, K1) and a2 (R, K2) side by side, without joining them,
    B (K1 + K2, N) as `pack_stacked`. The same bits as `matmul_packed_into` of the joined array."""
    _matmul_packed(a, a2, b_packed, c, r0, r1, accumulate)


@njit(inline="always")
def _matmul_packed(a, a2, b_packed, c, r0, r1, accumulate):
    width = c.shape[1]
    n_strips, depth, strip = b_packed.shape
    strip_bytes = strip * a.itemsize
    large = n_strips * depth * strip_bytes >= PREFETCH_MIN_BYTES
    n_blocks = max(1, -(-depth * strip_bytes // K_BLOCK_BYTES))
    per_block = -(-depth // n_blocks)
    split = a.shape[1]  # columns of the product's depth that come from a; the rest from a2
    ragged = n_strips * strip > width
    scratch = np.empty((r1 - r0 if ragged else 0, strip), c.dtype)  # for the ragged last strip
    for s in range(n_strips):
        j = s * strip
        whole = j + strip <= width
        rest = width - j
        if not whole and accumulate:  # the ragged last strip: whole tiles into the scratch block (the packing
            for r in range(r0, r1):  # padded it with zeros) over every block, then its valid columns into C:
                for jj in range(rest):  # every element of C comes from the same tile code, whatever the packing
                    scratch[r - r0, jj] = c[r, j + jj]
        for block in range(n_blocks):
            k0 = block * per_block
            k1 = min(depth, k0 + per_block)
            b = b_packed[s, k0:k1]  # (k1 - k0, 2W), contiguous
            a_part = a[:, min(k0, split) : min(k1, split)]
            a2_part = a2[:, max(k0, split) - split : max(k1, split) - split]
            adding = accumulate or block > 0  # a block's partial sums stored and reloaded exactly: the same bits
            if whole:
                prefetch = large and (s + 1 < n_strips or block + 1 < n_blocks)
                _strip_rows(a_part, a2_part, b, c[:, j : j + strip], r0, r1, adding, strip_bytes, prefetch)
            else:
                _strip_rows(a_part[r0:r1], a2_part[r0:r1], b, scratch, 0, r1 - r0, adding, strip_bytes, False)
        if not whole:
            for r in range(r0, r1):
                for jj in range(rest):
                    c[r, j + jj] = scratch[r - r0, jj]
