"""The cells' speed paths against the plain-NumPy reference: large hidden sizes (many packed strips,
long sums), batch sizes that do not split evenly into per-thread chunks or into the 4-row tiles of
the recurrent product, and the SIMD micro-kernel itself."""

import numpy as np
import pytest
from helpers import CELL_VARIANTS, OPTIONS, make_case, run_reference

from rnnsim.cells import blocks


def _check_against_reference(cell, option):
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS[option])
    result = cell.forward(x, weights, record_trace=True, **kwargs)
    grads = cell.backward(result, grad_outputs=grad_outputs, grad_final_states=grad_final)
    forward, backward = run_reference(cell, weights, x, kwargs, grad_outputs, grad_final)
    tol = dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(result.trace.hidden, forward["hidden"], **tol)
    for name, value in forward["gates"].items():
        np.testing.assert_allclose(result.trace.gates[name], value, err_msg=name, **tol)
    stacked_pre = np.concatenate([result.trace.preactivations[n] for n in result.trace.gate_names], axis=2)
    np.testing.assert_allclose(stacked_pre, forward["preactivation"], **tol)
    for key in weights:
        np.testing.assert_allclose(grads.weights[key], backward[key], err_msg=key, **tol)
    np.testing.assert_allclose(grads.inputs, backward["inputs"], **tol)
    for ours, theirs in zip(grads.initial_state, backward["states"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(grads.grad_hidden_norm, backward["grad_hidden_norm"], **tol)
    if cell.name == "lstm":
        np.testing.assert_allclose(grads.grad_cell_norm, backward["grad_cell_norm"], **tol)


@pytest.mark.parametrize("option", ["plain", "everything"])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_large_hidden_sizes_match_reference(variant, option, monkeypatch):
    # U = 130: the LSTM's 4U = 520 columns are 32 whole float32 strips and a ragged 8, the sums run
    # over K = 130 or 520, and each thread's chunk has a whole 4-row tile and leftover rows.
    import helpers as base_case

    monkeypatch.setattr(base_case, "UNITS", 130)
    monkeypatch.setattr(base_case, "BATCH", 11)
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, 2))
    cell = type(CELL_VARIANTS[variant]())(130, **({"reset_after": False} if variant == "gru_reset_before" else {}))
    _check_against_reference(cell, option)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_fused_path_with_uneven_thread_chunks_matches_reference(variant, threads, monkeypatch):
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, threads))
    _check_against_reference(CELL_VARIANTS[variant](), "everything")


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (4, 1), (3, 6)])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_recurrent_kernel_gradient_from_shifted_views_matches_explicit_previous_states(variant, shape, go_backwards):
    # dU is computed on two shifted views of the flat hidden buffer, with the pairs that cross from one
    # sequence into the next taken out again; single-step and single-sample batches are the edge cases.
    cell = CELL_VARIANTS[variant]()
    batch, timesteps = shape
    rng = np.random.default_rng(batch * 10 + timesteps)
    weights = cell.init_weights(4, rng, np.float64)
    x = rng.normal(size=(batch, timesteps, 4))
    h0 = tuple(rng.normal(size=(batch, cell.units)) for _ in cell.state_names)
    result = cell.forward(x, weights, initial_state=h0, go_backwards=go_backwards)
    grad_rec = rng.normal(size=(batch * timesteps, cell.n_blocks * cell.units))
    previous = cell._previous_hidden(result.cache).reshape(batch * timesteps, cell.units)
    np.testing.assert_allclose(cell._recurrent_kernel_gradient(result.cache, grad_rec), previous.T @ grad_rec,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_reused_backward_buffers_leave_earlier_gradients_untouched(variant):
    # backward hands its (B, T, G*U) scratch arrays to the next call: nothing returned may alias them.
    cell = CELL_VARIANTS[variant]()
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS["plain"])
    first = cell.backward(cell.forward(x, weights, **kwargs), grad_outputs=grad_outputs, grad_final_states=grad_final)
    kept = {key: value.copy() for key, value in first.weights.items()}
    kept_inputs = first.inputs.copy()
    other = cell.backward(cell.forward(x * 2.0 + 1.0, weights, **kwargs), grad_outputs=grad_outputs * 3.0,
                          grad_final_states=grad_final)
    again = cell.backward(cell.forward(x, weights, **kwargs), grad_outputs=grad_outputs, grad_final_states=grad_final)
    for key in kept:
        np.testing.assert_array_equal(first.weights[key], kept[key])
        np.testing.assert_array_equal(again.weights[key], kept[key])
        assert not np.array_equal(other.weights[key], kept[key])
    np.testing.assert_array_equal(first.inputs, kept_inputs)
    np.testing.assert_array_equal(again.inputs, kept_inputs)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("activations", [("relu", "hard_sigmoid"), ("tanh", "hard_sigmoid"), ("linear", "sigmoid")])
def test_gru_backward_with_other_activations_matches_reference(activations, reset_after):
    # The GRU backward writes the default tanh/sigmoid derivatives out (so its loops vectorize) and
    # keeps a general branch for every other pair: pin the general branch down too.
    from rnnsim import reference
    from rnnsim.cells import GRUCell

    activation, recurrent_activation = activations
    cell = GRUCell(5, activation=activation, recurrent_activation=recurrent_activation, reset_after=reset_after)
    weights, x, kwargs, grad_outputs, grad_final = make_case(cell, OPTIONS["plain"])
    grads = cell.backward(cell.forward(x, weights), grad_outputs=grad_outputs)
    back = reference.gru_backward(x, weights["kernel"], weights["recurrent_kernel"], weights["bias"], grad_outputs,
                                  reset_after=reset_after, activation=activation,
                                  recurrent_activation=recurrent_activation)
    for key in weights:
        np.testing.assert_allclose(grads.weights[key], back[key], rtol=1e-10, atol=1e-11, err_msg=key)
    np.testing.assert_allclose(grads.inputs, back["inputs"], rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("isa", ["avx512", "avx2", "generic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(64, 32, 128), (9, 32, 96), (7, 5, 3), (13, 20, 37), (5, 3, 16), (1, 1, 1), (6, 7, 40), (21, 9, 70),
              (11, 256, 1030)]
)
def test_simd_tile_product_matches_numpy(shape, dtype, isa):
    # The LLVM-vector micro-kernel covers whole tiles (8 or 4 rows x 2 vectors); the ragged rows and
    # columns take smaller tiles and plain loops. Each vector width's strips (the packing picks the
    # tile, so every width runs on any CPU) must give a @ b, overwriting or accumulating, on any row range.
    from rnnsim.cells.simd import matmul_packed_into, pack_columns

    rows, depth, width = shape
    rng = np.random.default_rng(rows * depth + width)
    a, b = rng.normal(size=(rows, depth)).astype(dtype), rng.normal(size=(depth, width)).astype(dtype)
    c = rng.normal(size=(rows, width)).astype(dtype)
    before = c.copy()
    # float32 rounding grows with the length of the sums (K = 256: a few 1e-5 on values of ~16)
    scale = max(1.0, depth / 32)
    tol = dict(rtol=1e-5, atol=1e-5 * scale) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13 * scale)
    packed = pack_columns(b, isa)
    matmul_packed_into(a, packed, c, 0, rows, True)
    np.testing.assert_allclose(c, before + a.astype(np.float64) @ b, **tol)
    start = rows // 3
    matmul_packed_into(a, packed, c, start, rows, False)
    expected = before + a.astype(np.float64) @ b
    expected[start:] = a[start:].astype(np.float64) @ b
    np.testing.assert_allclose(c, expected, **tol)


def test_simd_tile_product_writes_into_a_strided_view_only():
    # The kernels write h U straight into rows of a (B, T, G*U) buffer: a view whose rows are T*G*U apart.
    from rnnsim.cells.simd import matmul_packed_into, pack_columns

    rng = np.random.default_rng(0)
    buffer = np.zeros((10, 3, 40), np.float32)
    a, b = rng.normal(size=(10, 8)).astype(np.float32), rng.normal(size=(8, 40)).astype(np.float32)
    matmul_packed_into(a, pack_columns(b), buffer[:, 1, :], 0, 10, False)
    np.testing.assert_allclose(buffer[:, 1], a @ b, rtol=1e-5, atol=1e-5)
    assert not buffer[:, 0].any() and not buffer[:, 2].any()


@pytest.mark.parametrize("isa, dtype, strip", [("avx512", np.float32, 32), ("avx512", np.float64, 16),
                                               ("avx2", np.float32, 16), ("avx2", np.float64, 8),
                                               ("generic", np.float32, 8), ("generic", np.float64, 4)])
def test_pack_columns_cuts_b_into_contiguous_strips_of_two_vectors(isa, dtype, strip):
    from rnnsim.cells.simd import pack_columns, strip_width

    assert strip_width(dtype, isa) == strip
    b = np.arange(3 * 37, dtype=dtype).reshape(3, 37)  # 36 columns after the first: whole strips and a rest
    packed = pack_columns(b[:, 1:], isa)  # a view, as the GRU packs column blocks of its recurrent kernel
    n_strips = -(-36 // strip)
    assert packed.shape == (n_strips, 3, strip) and packed.flags.c_contiguous
    for s in range(n_strips):
        columns = b[:, 1 + s * strip : 1 + min(36, (s + 1) * strip)]
        np.testing.assert_array_equal(packed[s, :, : columns.shape[1]], columns)
        assert not packed[s, :, columns.shape[1] :].any()  # the last strip's padding is zeros
    transposed = np.arange(37 * 3, dtype=dtype).reshape(37, 3).T  # U^T, as the backward passes pack it
    np.testing.assert_array_equal(pack_columns(transposed, isa), pack_columns(np.ascontiguousarray(transposed), isa))


@pytest.mark.parametrize("units", [8, 16])
@pytest.mark.parametrize("variant", list(CELL_VARIANTS))
def test_kernels_with_whole_simd_tiles_match_reference(variant, units, monkeypatch):
    # The suite's default cells are narrow (every column takes the micro-kernel's ragged-edge loop);
    # at 8 and 16 units the products G*U and U are whole strips of 2 vectors for AVX2 (8 float64) and,
    # at 16, for AVX-512 (16 float64), plus ragged rests, with 4-row tiles and leftover rows in each
    # thread's chunk. tests/test_simd_paths.py runs every vector width's path through the cells.
    import helpers as base_case

    monkeypatch.setattr(base_case, "UNITS", units)
    monkeypatch.setattr(base_case, "BATCH", 11)
    monkeypatch.setattr(blocks, "thread_chunks", lambda batch: min(batch, 2))
    cell = type(CELL_VARIANTS[variant]())(units, **({"reset_after": False} if variant == "gru_reset_before" else {}))
    _check_against_reference(cell, "everything")
