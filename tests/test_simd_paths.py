"""The micro-kernel's vector widths (AVX-512, AVX2, generic): how one is chosen, that each one's path
through the cells matches the plain-NumPy reference, and that Numba's on-disk cache never hands
compiled code to a CPU, or a choice, it was not made for.

The packing carries the choice (strips of two vectors), and `simd.matmul_packed_into` picks the tile
from the strips' width, so every path runs on any CPU: here by setting `simd.ISA` (what
`pack_columns` reads) in this process, and through RNNSIM_SIMD in fresh processes.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import CELL_VARIANTS, OPTIONS, make_case, run_reference

from rnnsim.cells import blocks, kernel_cache, simd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ISAS = ["avx512", "avx2", "generic"]


@pytest.mark.parametrize("features, isa", [
    ("+64bit,+avx,+avx2,+fma,+avx512f,+avx512bw,+avx512vl", "avx512"),
    ("+avx,+avx2,+fma,-avx512f,-avx512bw", "avx2"),
    ("+avx,+avx2,-fma", "generic"),  # AVX2 without FMA: no tile of ours wants it
    ("+sse2,+sse4.2,-avx", "generic"),
    ("+neon,+fp-armv8,+v8.2a", "generic"),  # an ARM CPU
    ("", "generic"),  # NUMBA_CPU_NAME=generic with no features
])
def test_the_widest_vectors_are_read_from_the_cpu_features(features, isa):
    assert simd.isa_from_features(features) == isa


def test_rnnsim_simd_forces_a_path_and_a_bad_value_falls_back_with_a_warning():
    avx2_cpu = "+avx2,+fma,-avx512f"
    assert simd.choose_isa(None, avx2_cpu) == "avx2"
    assert simd.choose_isa("", avx2_cpu) == "avx2"
    assert simd.choose_isa(" AVX512 ", avx2_cpu) == "avx512"  # forced: correct on any CPU, only slower
    assert simd.choose_isa("generic", avx2_cpu) == "generic"
    with pytest.warns(UserWarning, match="RNNSIM_SIMD='sse9' is not one of avx512, avx2, generic"):
        assert simd.choose_isa("sse9", avx2_cpu) == "avx2"


def test_this_process_chose_from_the_features_numba_compiles_for():
    if os.environ.get(simd.ENV_VAR):
        pytest.skip("RNNSIM_SIMD is set")
    assert simd.ISA == simd.isa_from_features(simd.target_features())
    assert simd.VECTOR_BYTES == simd.VECTOR_BYTES_OF[simd.ISA] and simd.TILE_ROWS == simd.TILE_ROWS_OF[simd.ISA]


def _case_at(cell, monkeypatch, batch, units, dtype):
    import helpers as base_case

    monkeypatch.setattr(base_case, "UNITS", units)
    monkeypatch.setattr(base_case, "BATCH", batch)
    return make_case(cell, OPTIONS["everything"], dtype=dtype, seed=units)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunks", [1, 2, 3])
@pytest.mark.parametrize("units", [13, 32])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
@pytest.mark.parametrize("isa", ISAS)
def test_every_vector_widths_path_through_the_cells_matches_reference(isa, variant, units, chunks, dtype,
                                                                      monkeypatch):
    # 29 rows in 1, 2 or 3 chunks: AVX-512's 12-, 8- and 4-row tiles and single rows (AVX2's 4-row tiles);
    # 13 units make ragged strips everywhere, 32 whole ones (a float32 LSTM's 128 columns: 4 AVX-512
    # strips, 8 AVX2, 16 generic).
    monkeypatch.setattr(simd, "ISA", isa)
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, chunks))
    factory = CELL_VARIANTS[variant]
    cell = type(factory())(units, **({"reset_after": False} if variant == "gru_reset_before" else {}))
    weights, x, kwargs, grad_outputs, grad_final = _case_at(cell, monkeypatch, 29, units, np.float64)
    forward, backward = run_reference(cell, weights, x, kwargs, grad_outputs, grad_final)
    if dtype == np.float32:  # the approximate vectorized tanh/sigmoid: float32 accuracy, not 1e-10
        cast = lambda a: None if a is None else a.astype(np.float32)  # noqa: E731
        weights = {key: cast(value) for key, value in weights.items()}
        x, grad_outputs, grad_final = cast(x), cast(grad_outputs), tuple(cast(g) for g in grad_final)
        kwargs = {key: (tuple(cast(v) for v in value) if isinstance(value, tuple) else
                        cast(value) if isinstance(value, np.ndarray) and value.dtype == np.float64 else value)
                  for key, value in kwargs.items()}
        tol = dict(rtol=2e-4, atol=5e-5)
    else:
        tol = dict(rtol=1e-10, atol=1e-11)
    result = cell.forward(x, weights, record_trace=True, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    np.testing.assert_allclose(result.trace.hidden, forward["hidden"], **tol)
    for name, value in forward["gates"].items():
        np.testing.assert_allclose(result.trace.gates[name], value, err_msg=name, **tol)
    for key in weights:
        np.testing.assert_allclose(grads.weights[key], backward[key], err_msg=key, **tol)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], **tol)
    for ours, theirs in zip(grads.initial_state, backward["states"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_a_product_is_the_same_to_the_last_bit_however_b_is_cut_into_column_blocks(isa, dtype):
    # The LSTM at large U splits its recurrent kernel by units: a column may sit in a whole strip in one
    # cut and in a ragged last strip in another. Both must give the same bits (the same tile code).
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(23, 70)).astype(dtype), rng.normal(size=(70, 101)).astype(dtype)
    whole = np.empty((23, 101), dtype)
    simd.matmul_packed_into(a, simd.pack_columns(b, isa), whole, 0, 23, False)
    for cut in (1, 7, 29, 50, 64):
        parts = [np.empty((23, cut), dtype), np.empty((23, 101 - cut), dtype)]
        simd.matmul_packed_into(a, simd.pack_columns(b[:, :cut], isa), parts[0], 0, 23, False)
        simd.matmul_packed_into(a, simd.pack_columns(b[:, cut:], isa), parts[1], 0, 23, False)
        np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    rows = np.empty_like(whole)
    for r0, r1 in ((0, 3), (3, 12), (12, 23)):  # and however the rows are cut
        simd.matmul_packed_into(a, simd.pack_columns(b, isa), rows, r0, r1, False)
    np.testing.assert_array_equal(rows, whole)


@pytest.mark.parametrize("isa", ISAS)
def test_a_large_product_prefetches_and_gives_the_bits_of_the_small_ones(isa):
    # A packed B of PREFETCH_MIN_BYTES or more takes the prefetching tiles; cut into column blocks small
    # enough not to, the same product must come out to the last bit (a prefetch changes no number),
    # with and without accumulating, and match numpy.
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(29, 300)).astype(np.float32), rng.normal(size=(300, 610)).astype(np.float32)
    packed = simd.pack_columns(b, isa)
    assert packed.nbytes >= simd.PREFETCH_MIN_BYTES
    start = rng.normal(size=(29, 610)).astype(np.float32)
    for accumulate in (False, True):
        whole = start.copy()
        simd.matmul_packed_into(a, packed, whole, 0, 29, accumulate)
        pieces = []
        for j in range(0, 610, 64):
            block = simd.pack_columns(b[:, j : j + 64], isa)
            assert block.nbytes < simd.PREFETCH_MIN_BYTES
            piece = start[:, j : j + 64].copy()
            simd.matmul_packed_into(a, block, piece, 0, 29, accumulate)
            pieces.append(piece)
        np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
        np.testing.assert_allclose(whole, a @ b + (start if accumulate else 0), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("depths, width", [((128, 256), 1024), ((7, 13), 37), ((1, 40), 70), ((30, 0), 33),
                                           ((300, 800), 40)])
def test_a_joined_product_gives_the_bits_of_the_joined_array_and_of_two_products(isa, dtype, depths, width):
    # The LSTM's [x_t, h_{t-1}] [W; U] (matmul_joined_into on pack_stacked): the bits of the product of the
    # joined array, and of x_t W then += h_{t-1} U (the two calls the kernels made before), on strided views
    # (x_t of a batch-major x), row ranges, ragged strips, prefetching (the first case's B is 1.5 MB), and numpy.
    # Depths beyond simd.K_BLOCK_BYTES of a strip are cut into blocks (at every width for the last case), at
    # other places than the two products' boundary: a block's stored partial sums must change no bit.
    rng = np.random.default_rng(sum(depths) + width)
    d1, d2 = depths
    x = rng.normal(size=(17, 3, d1)).astype(dtype)[:, 1]  # rows 3 * d1 apart
    h = rng.normal(size=(17, d2)).astype(dtype)
    w, u = rng.normal(size=(d1, width)).astype(dtype), rng.normal(size=(d2, width)).astype(dtype)
    stacked = simd.pack_stacked((w, u), isa)
    np.testing.assert_array_equal(stacked, simd.pack_columns(np.vstack([w, u]), isa))
    joined = np.empty((17, width), dtype)
    for r0, r1 in ((0, 5), (5, 17)):
        simd.matmul_joined_into(x, h, stacked, joined, r0, r1, False)
    whole = np.empty_like(joined)
    simd.matmul_packed_into(np.hstack([x, h]), stacked, whole, 0, 17, False)
    np.testing.assert_array_equal(joined, whole)
    two = np.empty_like(joined)
    simd.matmul_packed_into(x, simd.pack_columns(w, isa), two, 0, 17, False)
    if d2:
        simd.matmul_packed_into(h, simd.pack_columns(u, isa), two, 0, 17, True)
    np.testing.assert_array_equal(joined, two)
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(joined, x @ w + h @ u, **tol)


def test_pack_stacked_takes_blocks_of_one_width_and_dtype_and_packs_into_a_given_array():
    with pytest.raises(ValueError, match="one width and dtype"):
        simd.pack_stacked((np.zeros((3, 4), np.float32), np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match="one width and dtype"):
        simd.pack_stacked((np.zeros((3, 4), np.float32), np.zeros((2, 4), np.float64)))
    w, u = np.arange(12, dtype=np.float32).reshape(3, 4), np.arange(8, dtype=np.float32).reshape(2, 4)
    out = np.full(simd.packed_shape((w, u)), np.nan, np.float32)  # a reused buffer holds old values
    assert simd.pack_stacked((w, u), out=out) is out
    np.testing.assert_array_equal(out, simd.pack_columns(np.vstack([w, u])))
    with pytest.raises(ValueError, match="C-contiguous float32 array of shape"):
        simd.pack_stacked((w, u), out=np.empty((1, 6, out.shape[2]), np.float32))


def test_the_lstm_packs_its_kernels_into_its_pool_and_gives_them_back():
    from rnnsim.cells import LSTMCell

    cell = LSTMCell(40)
    weights = cell.init_weights(7, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(5, 6, 7)).astype(np.float32)
    first = cell.forward(x, weights, keep_for_backward=False).final_states[0].copy()
    stacked = simd.packed_shape((weights["kernel"], weights["recurrent_kernel"]))
    pooled = [b for b in cell.buffers._scratch if b.shape == stacked]
    assert len(pooled) == 1
    pooled[0].fill(np.nan)  # the next pass must pack afresh into it, not read what is there
    np.testing.assert_array_equal(cell.forward(x, weights, keep_for_backward=False).final_states[0], first)
    assert [b for b in cell.buffers._scratch if b.shape == stacked] == pooled


@pytest.mark.parametrize("isa", ISAS)
def test_every_vector_width_gives_the_same_numbers_on_one_thread_and_on_three(isa, monkeypatch):
    from rnnsim import threads
    from rnnsim.cells import LSTMCell

    monkeypatch.setattr(simd, "ISA", isa)
    monkeypatch.setattr(threads, "_threads", None)
    rng = np.random.default_rng(5)
    cell = LSTMCell(40)
    weights = cell.init_weights(24, rng)
    x = rng.normal(size=(37, 30, 24)).astype(np.float32)
    runs = []
    for count in (1, 3):
        threads.set_num_threads(count)
        result = cell.forward(x, weights)
        grads = cell.backward(result, grad_final_states=(np.ones((37, 40), np.float32), None))
        runs.append((result.outputs.copy(), grads.inputs.copy(), grads.weights["recurrent_kernel"].copy()))
    for one, three in zip(*runs):
        np.testing.assert_array_equal(one, three)


_REPORT = """
import json, numpy as np
from rnnsim.cells import LSTMCell, simd
rng = np.random.default_rng(0)
a, b = rng.normal(size=(21, 19)), rng.normal(size=(19, 45))
c = np.empty((21, 45))
simd.matmul_packed_into(a, simd.pack_columns(b), c, 0, 21, False)
print(json.dumps({"isa": simd.ISA, "vector_bytes": simd.VECTOR_BYTES, "tile_rows": simd.TILE_ROWS,
                  "strip_float32": simd.strip_width(np.float32), "error": float(abs(c - a @ b).max()),
                  "hits": sum(simd.matmul_packed_into.stats.cache_hits.values()),
                  "misses": sum(simd.matmul_packed_into.stats.cache_misses.values())}))
"""


def _report(**env):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("RNNSIM_SIMD", "NUMBA_CPU"))}
    environment.update(env, PYTHONPATH=ROOT)
    completed = subprocess.run([sys.executable, "-c", _REPORT], capture_output=True, text=True, cwd=ROOT,
                               env=environment, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("isa, vector_bytes, tile_rows, strip", [("avx512", 64, 12, 32), ("avx2", 32, 4, 16),
                                                                 ("generic", 16, 4, 8)])
def test_rnnsim_simd_chooses_the_path_at_import(isa, vector_bytes, tile_rows, strip):
    report = _report(RNNSIM_SIMD=isa)
    assert (report["isa"], report["vector_bytes"], report["tile_rows"], report["strip_float32"]) == (
        isa, vector_bytes, tile_rows, strip)
    assert report["error"] < 1e-12


def test_the_compile_cache_is_keyed_by_the_target_cpu_and_shared_by_every_rnnsim_simd(tmp_path):
    # Numba's index key holds codegen.magic_tuple() (triple, CPU name, features). Nothing of RNNSIM_SIMD
    # is compiled in (the strips carry it), so one entry serves every choice on one CPU.
    cache = str(tmp_path)
    avx2_features = "+64bit,+avx,+avx2,+fma,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+popcnt,+cx16,-avx512f"
    first = _report(NUMBA_CACHE_DIR=cache)
    assert first["misses"] == 1 and first["hits"] == 0  # compiled and written
    again = _report(NUMBA_CACHE_DIR=cache, RNNSIM_SIMD="generic")
    assert again["hits"] == 1 and again["misses"] == 0 and again["error"] < 1e-12  # loaded, right on any strips
    if sys.platform.startswith("linux") and os.uname().machine == "x86_64":
        haswell = _report(NUMBA_CACHE_DIR=cache, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES=avx2_features)
        assert haswell["isa"] == "avx2"  # the choice follows what Numba compiles for
        assert haswell["misses"] == 1 and haswell["hits"] == 0 and haswell["error"] < 1e-12
        generic = _report(NUMBA_CACHE_DIR=cache, NUMBA_CPU_NAME="generic", NUMBA_CPU_FEATURES="")
        assert generic["isa"] == "generic" and generic["misses"] == 1 and generic["hits"] == 0
        assert generic["error"] < 1e-12
        assert _report(NUMBA_CACHE_DIR=cache, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES=avx2_features)["hits"] == 1


def test_a_cells_kernel_is_stamped_with_every_source_file_of_the_folder(monkeypatch):
    # A kernel carries the compiled code of what it calls in other files (simd.py's tile): its cache entry
    # must go stale when any of them changes, not only its own file.
    from rnnsim.cells import lstm

    locator = lstm._lstm_forward_fused._cache._impl.locator
    assert isinstance(locator, kernel_cache._FolderStamp)
    own, folder = locator.get_source_stamp()
    assert folder == kernel_cache.sources_digest()
    monkeypatch.setattr(kernel_cache, "sources_digest", lambda: "simd.py changed")
    assert locator.get_source_stamp() == (own, "simd.py changed")


def test_only_the_cells_functions_get_the_folder_stamp(tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text("def f(x):\n    return x\n")
    for locator_class in kernel_cache._installed:
        assert locator_class.from_function(lambda x: x, str(outside)) is None
