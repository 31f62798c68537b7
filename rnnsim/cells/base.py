"""What the three cells share: validation, weights, and the parts of BPTT that are plain BLAS.

Each cell file (`simple_rnn.py`, `lstm.py`, `gru.py`) holds its equations, its Numba forward
kernel and its Numba backward kernel. This module holds the Python around them:

    forward:  validate -> x W + b for all timesteps as one matrix product (BLAS, in pieces on the
              cells' threads: `threads.matmul`)
              -> the cell's time loop (Numba, batch rows split across threads) -> ForwardResult
    backward: the cell's reverse time loop (Numba) gives dL/d(pre-activations) at every step
              -> weight and input gradients as a few large matrix products (BLAS, likewise)

The time loop is the only part that must be sequential, so it is the only part in Numba;
everything that can be one big matrix product is one.

Internal buffers are *time-major*, (T, B, ...), and indexed by input position t; the public
arrays (outputs, traces, input gradients) are batch-major (B, T, ...) views of them. Time-major
is what the kernels want: each thread owns a chunk of batch rows, and at step t its rows of
every buffer are one contiguous block (a batch-major buffer puts them T*G*U elements apart,
which cost 2-3x in cache misses). A kernel reading the sequence backwards (`go_backwards`)
visits t = T-1 ... 0. Forward kernels may overwrite x_proj in place (SimpleRNN: with h_t; LSTM
and GRU: with the activated gates), so a forward pass keeps one (T, B, G*U) array, not two.
Backward's (T, B, G*U) pre-activation gradients never leave `backward`, and are reused by the
next call (`_scratch_buffer`).
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass, field

import numpy as np

from rnnsim import initializers
from rnnsim.cells import activations, kernel_parts
from rnnsim.cells.buffers import BufferPool
from rnnsim.cells.checks import check_inputs
from rnnsim.cells.embedding_lookup import TokenSequence, gather_rows, scatter_add_rows, token_steps
from rnnsim.cells.floating_point import denormals_flushed
from rnnsim.cells.simd import pack_stacked, packed_shape
from rnnsim.cells.spec import CellSpec
from rnnsim.cells.threads import matmul, run_chunks, single_threaded_blas
from rnnsim.cells.trace import GATE_NAMES, Trace
from rnnsim.errors import InputError
from rnnsim.sparse import SparseRows


@dataclass
class ForwardResult:
    """What a cell's forward pass returns; `backward` needs it back."""

    outputs: np.ndarray  # (B, T, U) h after each processing step, Keras order
    final_states: tuple  # (h,) or (h, c), each (B, U)
    trace: Trace | None  # filled when record_trace=True
    cache: dict = field(default_factory=dict, repr=False)  # everything backward needs


@dataclass
class CellGradients:
    """Gradients from a cell's backward pass."""

    weights: dict  # same keys and shapes as the weights
    inputs: np.ndarray | SparseRows | None  # (B, T, D) dL/dx; for a TokenSequence, the embedding table's
    # rows; None when backward was told input_gradient=False
    initial_state: tuple  # dL/dh_0 (and dL/dc_0), each (B, U)
    grad_hidden_norm: np.ndarray  # (B, T) ||dL/dh_t|| by input position
    grad_cell_norm: np.ndarray | None  # (B, T) ||dL/dc_t|| (LSTM)


def _blas_on_one_thread(method):
    """Run a cell method with numpy's BLAS on one thread: the cells' large products are split over
    rnnsim's own threads instead (`threads.matmul`; see rnnsim.threads for why). Denormals are flushed
    to zero on this thread meanwhile, as on the cells' worker threads (`floating_point`)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with single_threaded_blas(), denormals_flushed():
            return method(self, *args, **kwargs)

    return wrapper


class RecurrentCell:
    """One recurrent cell type: weights in Keras's layout, a forward and a backward pass.

    Subclasses set `name`, `n_blocks` (gate blocks in the kernel: 1, 4 or 3), `state_names`,
    and implement `_run_forward` / `_run_backward` around their Numba kernels.
    """

    spec: CellSpec | None = None  # the cell's gates and equations (rnnsim.cells.spec)
    # True: the forward kernel computes x_t W + b inside its time loop (x_proj comes to `_run_forward`
    # uninitialized, with cache["x_steps"], or cache["tokens"] whose rows it looks up step by step) instead
    # of one product over all timesteps first
    projects_inputs_in_loop = False
    name = ""
    n_blocks = 1
    state_names: tuple[str, ...] = ("hidden",)

    def __init_subclass__(cls, **kwargs):
        """A cell's docstring ends with its declared gates and equations, rendered from `spec`."""
        super().__init_subclass__(**kwargs)
        if cls.spec is not None and cls.__doc__ and "Equations, one step" not in cls.__doc__:
            cls.__doc__ = cls.__doc__.rstrip() + "\n\n" + textwrap.indent(cls.spec.docstring(), "    ")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise InputError(f"units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = "linear" if activation is None else str(activation)
        self.recurrent_activation = "linear" if recurrent_activation is None else str(recurrent_activation)
        self.activation_code = activations.code(self.activation)
        self.recurrent_activation_code = activations.code(self.recurrent_activation)
        self.use_bias = bool(use_bias)

    def __repr__(self):
        return f"{type(self).__name__}(units={self.units})"

    # -- weights ---------------------------------------------------------------------------

    def weight_shapes(self, input_dim: int) -> dict:
        """Keras's layout: kernel (D, G*U), recurrent_kernel (U, G*U), bias (G*U,)."""
        width = self.n_blocks * self.units
        shapes = {"kernel": (int(input_dim), width), "recurrent_kernel": (self.units, width)}
        if self.use_bias:
            shapes["bias"] = (width,)
        return shapes

    def count_params(self, input_dim: int) -> int:
        return int(sum(np.prod(shape) for shape in self.weight_shapes(input_dim).values()))

    def init_weights(
        self,
        input_dim,
        rng,
        dtype=np.float32,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
    ) -> dict:
        """Fresh weights with Keras's default initializers.

        Args:
            input_dim: features per timestep, D.
            rng: a `numpy.random.Generator`.
            dtype: float32 (default) or float64.
            kernel_initializer: default 'glorot_uniform'.
            recurrent_initializer: default 'orthogonal'.
            bias_initializer: default 'zeros'.
            unit_forget_bias: LSTM only: forget-gate bias starts at 1 (default True).
        """
        shapes = self.weight_shapes(input_dim)
        weights = {
            "kernel": initializers.get(kernel_initializer)(shapes["kernel"], rng, dtype),
            "recurrent_kernel": initializers.get(recurrent_initializer)(shapes["recurrent_kernel"], rng, dtype),
        }
        if self.use_bias:
            weights["bias"] = initializers.get(bias_initializer)(shapes["bias"], rng, dtype)
        return weights

    # -- validation (rnnsim.cells.checks) ---------------------------------------------------

    def _check_inputs(self, x, weights, initial_state, mask, input_dropout_mask, recurrent_dropout_mask):
        return check_inputs(self, x, weights, initial_state, mask, input_dropout_mask, recurrent_dropout_mask)

    # -- forward ---------------------------------------------------------------------------

    @_blas_on_one_thread
    def forward(
        self,
        x,
        weights,
        initial_state=None,
        mask=None,
        input_dropout_mask=None,
        recurrent_dropout_mask=None,
        go_backwards=False,
        record_trace=False,
        keep_for_backward=True,
        return_sequences=True,
    ) -> ForwardResult:
        """Run the cell over a whole sequence.

        Args:
            x: (B, T, D) inputs, cast to the weights' dtype; or a `TokenSequence` (ids and an
                embedding table), which gives the same result without the embedded array.
            weights: dict in Keras's layout (see `weight_shapes`).
            initial_state: tuple of (B, U) arrays, or None for zeros (default).
            mask: (B, T) bool, False at padded steps (the state is carried over); default None.
            input_dropout_mask: (B, D) inverted-dropout mask for the inputs; default None.
            recurrent_dropout_mask: (B, U) mask for h_{t-1} in the recurrent product; default None.
            go_backwards: read the sequence last-to-first (default False).
            record_trace: also keep pre-activations and return a `Trace` (default False).
            keep_for_backward: keep what `backward` needs (default True). False, for predict: cells with
                a lean forward (the LSTM) keep nothing, and `backward` on the result is an error; ignored
                with record_trace or dropout masks, and by the other cells.
            return_sequences: with keep_for_backward=False, False keeps only the final states
                (`outputs` is then None); default True.
        """
        x, weights, dtype, states, step_mask, user_mask, input_drop, recurrent_drop = self._check_inputs(
            x, weights, initial_state, mask, input_dropout_mask, recurrent_dropout_mask
        )
        batch, timesteps, features = x.shape
        width = self.n_blocks * self.units
        lean = (not keep_for_backward and not record_trace and input_drop is None and recurrent_drop is None
                and hasattr(self, "_run_predict"))
        if lean:
            return self._predict(x, weights, dtype, states, step_mask, bool(go_backwards), bool(return_sequences))

        if isinstance(x, TokenSequence) and self.projects_inputs_in_loop:  # x_t looked up in the loop (lstm.py)
            x_steps, token_ids = None, token_steps(x)
            x_proj = self._kept_buffer((timesteps, batch, width), dtype)
        elif isinstance(x, TokenSequence):  # project the (V, D) table once, then look the rows up (tokens.py)
            x_steps = None
            token_ids, x_proj = self._token_projection(x, weights, dtype)
        else:
            token_ids = None
            x_steps = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, D); free when x is a time-major view
            if input_drop is not None:
                x_steps = x_steps * input_drop[None, :, :]
            if self.projects_inputs_in_loop:  # the kernel adds x_t W + b itself, step by step (lstm.py)
                x_proj = self._kept_buffer((timesteps, batch, width), dtype)
            else:
                # The input projection of every timestep at once: one BLAS call instead of T small ones.
                # The bias is added block by block right after each block's product, while it is in cache.
                x_proj = matmul(x_steps.reshape(timesteps * batch, features), weights["kernel"],
                                out=self._kept_buffer((timesteps * batch, width), dtype),
                                add=self._input_bias(weights))
                x_proj = x_proj.reshape(timesteps, batch, width)  # (T, B, G*U)

        recurrent_drop_arg = (
            recurrent_drop if recurrent_drop is not None else np.ones((1, 1), dtype)
        )  # a dummy when off: the kernels test a flag, not the array
        cache = dict(
            x_steps=x_steps,
            tokens=x if token_ids is not None else None,
            token_ids=token_ids,
            weights=weights,
            dtype=dtype,
            states=states,
            step_mask=step_mask,
            input_drop=input_drop,
            recurrent_drop=recurrent_drop,
            recurrent_drop_arg=recurrent_drop_arg,
            go_backwards=bool(go_backwards),
            fast=dtype == np.float32,
        )
        buffers = self._run_forward(x_proj, cache, bool(record_trace))
        cache.update(buffers)

        hidden = buffers["hidden"]  # (T, B, U) by input position
        last = 0 if go_backwards else timesteps - 1
        final_states = (hidden[last].copy(),)
        if "cell_state" in buffers:
            final_states += (buffers["cell_state"][last].copy(),)
        outputs = (hidden[::-1] if go_backwards else hidden).transpose(1, 0, 2)  # (B, T, U) view, Keras order

        trace = None
        if record_trace:
            trace = self._make_trace(buffers, user_mask, bool(go_backwards))
        cache["trace"] = trace
        return ForwardResult(outputs=outputs, final_states=final_states, trace=trace, cache=cache)

    def _token_projection(self, tokens, weights, dtype):
        """(ids (T, B), x_t W + b (T, B, G*U)) for a TokenSequence: the (V, D) table projected once, then
        its rows looked up (embedding_lookup.py)."""
        batch, timesteps = tokens.ids.shape
        token_ids = token_steps(tokens)  # (T, B)
        table = matmul(tokens.embeddings, weights["kernel"])  # (V, G*U)
        bias = self._input_bias(weights)
        if bias is not None:
            table += bias
        x_proj = self._kept_buffer((timesteps, batch, self.n_blocks * self.units), dtype)
        run_chunks(gather_rows, kernel_parts.thread_chunks(token_ids.shape[0]), table, token_ids, x_proj)
        return token_ids, x_proj

    def _predict(self, x, weights, dtype, states, step_mask, go_backwards, return_sequences) -> ForwardResult:
        """forward(keep_for_backward=False): the cell's `_run_predict`, whose result backward refuses."""
        if isinstance(x, TokenSequence) and not self.projects_inputs_in_loop:
            x_in, x_proj = None, self._token_projection(x, weights, dtype)[1]
        else:
            x_in, x_proj = x, None
        hidden, final_states = self._run_predict(x_in, x_proj, weights, states, step_mask, go_backwards,
                                                 dtype == np.float32, return_sequences)
        outputs = None
        if hidden is not None:
            outputs = (hidden[::-1] if go_backwards else hidden).transpose(1, 0, 2)  # (B, T, U) view
        return ForwardResult(outputs=outputs, final_states=final_states, trace=None, cache={"lean": True})

    def _input_bias(self, weights):
        """The bias added to x_t W (None without one)."""
        return weights["bias"] if self.use_bias else None

    def _make_trace(self, buffers, user_mask, go_backwards, time_major=True) -> Trace:
        """A Trace (batch-major views) from the forward buffers, time-major (T, B, ...) unless told otherwise."""
        units = self.units
        names = GATE_NAMES[self.name]

        def batch_major(array):
            return array.transpose(1, 0, 2) if time_major and array is not None else array

        gates = batch_major(buffers["gates"])
        pre = batch_major(buffers["preactivations"])
        return Trace(
            cell=self.name,
            gates={name: gates[:, :, k * units : (k + 1) * units] for k, name in enumerate(names)},
            preactivations={name: pre[:, :, k * units : (k + 1) * units] for k, name in enumerate(names)},
            hidden=batch_major(buffers["hidden"]),
            cell_state=batch_major(buffers.get("cell_state")),
            mask=None if user_mask is None else np.asarray(user_mask, bool),
            go_backwards=go_backwards,
            extra=self.trace_options(),
        )

    def trace_options(self) -> dict:
        """The cell's options that change how its equations read (recorded in Trace.extra)."""
        return {}

    # -- backward --------------------------------------------------------------------------

    @_blas_on_one_thread
    def backward(self, result: ForwardResult, grad_outputs=None, grad_final_states=None,
                 input_gradient=True) -> CellGradients:
        """Backpropagation through time.

        Args:
            result: what `forward` returned.
            grad_outputs: (B, T, U) dL/d(outputs), in the order of `result.outputs`; default None.
            grad_final_states: tuple like `result.final_states` (entries may be None); default None.
            input_gradient: compute dL/dx (default True); False skips that product (a model's first
                layer: nobody needs the gradient of the data) and `inputs` is None.
        """
        cache = result.cache
        if cache.get("lean"):
            raise InputError(f"{self.name}: this forward pass kept nothing for backward "
                             "(it ran with keep_for_backward=False); run it again with keep_for_backward=True")
        dtype = cache["dtype"]
        timesteps, batch, units = cache["hidden"].shape
        go_backwards = cache["go_backwards"]

        if grad_outputs is None:
            grad_hidden_seq = np.zeros((1, 1, 1), dtype)
            has_grad_seq = False
        else:
            grad_outputs = np.asarray(grad_outputs)
            if grad_outputs.shape != (batch, timesteps, units):
                raise InputError(
                    f"{self.name} output gradient has shape {grad_outputs.shape}, "
                    f"expected {(batch, timesteps, units)}"
                )
            # back to input order, time-major: the order and layout of the kernels' buffers
            in_input_order = grad_outputs[:, ::-1] if go_backwards else grad_outputs
            grad_hidden_seq = np.ascontiguousarray(in_input_order.transpose(1, 0, 2), dtype)  # (T, B, U)
            has_grad_seq = True

        final_grads = []
        grad_final_states = tuple(grad_final_states or ())
        for k, _ in enumerate(self.state_names):
            given = grad_final_states[k] if k < len(grad_final_states) else None
            final_grads.append(
                np.zeros((batch, units), dtype) if given is None else np.ascontiguousarray(given, dtype)
            )

        out = self._run_backward(cache, grad_hidden_seq, has_grad_seq, final_grads)
        grads = self._weight_gradients(cache, out, bool(input_gradient))
        trace = cache.get("trace")
        if trace is not None:  # a probe: the norms the views draw, before the buffers go back to the pool
            trace.grad_hidden_norm = out["grad_hidden_norm"]
            trace.grad_cell_norm = out.get("grad_cell_norm")
            trace.grad_preact_norm = _row_norms(out["grad_input_preact"])
            trace.grad_input_norm = self._input_gradient_norm(cache, out, grads["inputs"])
        self._release_buffers(out["grad_input_preact"], out["grad_recurrent_preact"])
        return CellGradients(
            weights=grads["weights"],
            inputs=grads["inputs"],
            initial_state=out["initial_state"],
            grad_hidden_norm=out["grad_hidden_norm"],
            grad_cell_norm=out.get("grad_cell_norm"),
        )

    def _input_gradient_norm(self, cache, out, grad_inputs) -> np.ndarray:
        """||dL/dx_t|| per sample and input position, (B, T).

        x_t is what the layer read at step t: for a `TokenSequence`, the embedding row of the token (the
        same dL/dx_t a separate Embedding layer would receive). Computed from dL/d(x W + b) when backward
        did not make dL/dx itself (a model's first layer, or token input): only probes record traces,
        so training never pays for it.
        """
        if isinstance(grad_inputs, np.ndarray):
            return np.sqrt(np.einsum("btd,btd->bt", grad_inputs, grad_inputs))
        timesteps, batch, width = out["grad_input_preact"].shape
        grad_in = out["grad_input_preact"].reshape(timesteps * batch, width)  # (T*B, G*U)
        grad_x = matmul(grad_in, cache["weights"]["kernel"].T).reshape(timesteps, batch, -1)  # (T, B, D)
        if cache["input_drop"] is not None:
            grad_x *= cache["input_drop"][None, :, :]
        return _row_norms(grad_x)

    def _previous_hidden(self, cache) -> np.ndarray:
        """h_{t-1} as it entered the recurrent product at each input position t, (T, B, U)."""
        hidden = cache["hidden"]
        h0 = cache["states"][0]
        previous = np.empty_like(hidden)
        if cache["go_backwards"]:
            previous[:-1] = hidden[1:]
            previous[-1] = h0
        else:
            previous[1:] = hidden[:-1]
            previous[0] = h0
        if cache["recurrent_drop"] is not None:
            previous *= cache["recurrent_drop"][None, :, :]
        return previous

    def _weight_gradients(self, cache, out, input_gradient=True) -> dict:
        """dW, dU, db and dx from the per-step pre-activation gradients, as BLAS products.

        out["grad_input_preact"] is dL/d(x W + b) and out["grad_recurrent_preact"] is
        dL/d(h_{t-1} U), both (T, B, G*U); they are the same array except in the GRU.
        """
        weights = cache["weights"]
        timesteps, batch, width = out["grad_input_preact"].shape
        rows = timesteps * batch
        grad_in = out["grad_input_preact"].reshape(rows, width)  # (T*B, G*U)
        grad_rec = out["grad_recurrent_preact"].reshape(rows, width)

        grads = {"recurrent_kernel": self._recurrent_kernel_gradient(cache, grad_rec)}  # (U, G*U)
        if cache["tokens"] is not None:  # the sums grouped by token (see tokens.py)
            embeddings = cache["tokens"].embeddings  # (V, D)
            token_ids = cache["token_ids"].reshape(rows)
            per_token = self._scratch_buffer((embeddings.shape[0], width), grad_in.dtype)  # S, (V, G*U)
            per_token.fill(0.0)
            n_chunks = kernel_parts.thread_chunks(width)
            run_chunks(scatter_add_rows, n_chunks, token_ids, grad_in, per_token)
            grads["kernel"] = matmul(embeddings.T, per_token)  # (D, G*U)
            if self.use_bias:
                grads["bias"] = column_sums(per_token)
            grad_inputs = None
            if input_gradient:
                used = np.flatnonzero(np.bincount(token_ids, minlength=embeddings.shape[0]))
                grad_inputs = SparseRows(used, matmul(per_token[used], weights["kernel"].T), embeddings.shape)
            self._release_buffers(per_token)
        else:
            x_steps = cache["x_steps"]  # (T, B, D)
            features = x_steps.shape[2]
            grads["kernel"] = matmul(x_steps.reshape(rows, features).T, grad_in)  # (D, G*U)
            if self.use_bias:
                grads["bias"] = column_sums(grad_in)
            grad_inputs = None
            if input_gradient:
                grad_x = matmul(grad_in, weights["kernel"].T).reshape(timesteps, batch, features)  # (T, B, D)
                if cache["input_drop"] is not None:
                    grad_x *= cache["input_drop"][None, :, :]
                grad_inputs = grad_x.transpose(1, 0, 2)  # (B, T, D) view
        self._adjust_weight_gradients(cache, out, grads, grad_rec)
        return {"weights": grads, "inputs": grad_inputs}

    def _recurrent_kernel_gradient(self, cache, grad_rec) -> np.ndarray:
        """dU = sum over t, b of h_{t-1}^T dz_t, (U, G*U), from grad_rec (T*B, G*U).

        Without recurrent dropout h_{t-1} is the time-major hidden buffer shifted by one step (B rows
        of the flat (T*B, U) view), so the product runs on two shifted views instead of a copy, and
        h_0 adds the first step's term.
        """
        if cache["recurrent_drop"] is not None:
            previous = self._previous_hidden(cache).reshape(grad_rec.shape[0], self.units)  # (T*B, U)
            return matmul(previous.T, grad_rec)
        hidden = cache["hidden"]  # (T, B, U)
        timesteps, batch, units = hidden.shape
        flat_hidden = hidden.reshape(timesteps * batch, units)
        h0 = cache["states"][0]
        if cache["go_backwards"]:  # h_{t-1} of input position t is hidden[t + 1]; h_0 enters at t = T-1
            dU = matmul(flat_hidden[batch:].T, grad_rec[:-batch])
            dU += h0.T @ grad_rec[-batch:]
        else:
            dU = matmul(flat_hidden[:-batch].T, grad_rec[batch:])
            dU += h0.T @ grad_rec[:batch]
        return dU

    def _adjust_weight_gradients(self, cache, out, grads, grad_rec):
        """Hook for cells whose weight gradients differ from the plain form (the GRU)."""

    # -- reusable buffers (rnnsim.cells.buffers) -------------------------------------------

    @property
    def buffers(self) -> BufferPool:
        """This cell's pool of large arrays, made on first use."""
        pool = self.__dict__.get("_buffers")
        if pool is None:
            pool = self.__dict__.setdefault("_buffers", BufferPool())
        return pool

    def _scratch_buffer(self, shape, dtype) -> np.ndarray:
        """An uninitialized array for backward's internal (T, B, G*U) gradients, reused across calls."""
        return self.buffers.scratch(shape, dtype)

    def _packed(self, *blocks) -> np.ndarray:
        """`simd.pack_stacked(blocks)` into a scratch array of the pool (give it back with `_release_buffers`):
        a fresh one costs page faults at every call (LSTM(512)'s [W; U] is 5 MB)."""
        return pack_stacked(blocks, out=self._scratch_buffer(packed_shape(blocks), blocks[0].dtype))

    def _release_buffers(self, *buffers):
        self.buffers.release(*buffers)

    def _kept_buffer(self, shape, dtype) -> np.ndarray:
        """An uninitialized array for what a forward pass keeps in its result (gates, states), reused
        once no earlier result holds it."""
        return self.buffers.kept(shape, dtype)

    # -- subclass interface ----------------------------------------------------------------

    def _run_forward(self, x_proj, cache, record_trace) -> dict:
        raise NotImplementedError

    def _run_backward(self, cache, grad_hidden_seq, has_grad_seq, final_grads) -> dict:
        raise NotImplementedError


def _row_norms(time_major) -> np.ndarray:
    """The norm over the last axis of a (T, B, K) array, as a batch-major (B, T) array."""
    return np.sqrt(np.einsum("tbk,tbk->bt", time_major, time_major))


def column_sums(matrix) -> np.ndarray:
    """matrix.sum(axis=0) as one BLAS product with a vector of ones: a single pass at memory speed
    (numpy's sum over the rows of a column slice is several times slower; BENCHMARKS.md)."""
    return matmul(np.ones((1, matrix.shape[0]), matrix.dtype), matrix)[0]


def trace_buffer(record_trace, shape, dtype):
    """A real pre-activation buffer when recording, a 1-element dummy when not."""
    return np.empty(shape, dtype) if record_trace else np.empty((1, 1, 1), dtype)
