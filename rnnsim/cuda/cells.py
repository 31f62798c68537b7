"""Device-resident cells: the CPU cells' interface (rnnsim/cells/API.md), with the work on the GPU.

`CudaSimpleRNNCell`, `CudaLSTMCell` and `CudaGRUCell` subclass the CPU cells, so names, weight
shapes, initializers and parameter counts are the CPU's; only `forward` and `backward` change:

    forward:  x (* input dropout) -> x W + b for all timesteps as one device matrix product
              -> the cell's time-loop kernel (one block per batch row) -> ForwardResult
    backward: the cell's reverse time-loop kernel -> dL/d(pre-activations) at every step
              -> dW = X^T dG, dU = H_prev^T dG, db = sum dG, dx = dG W^T as device matrix products

Arrays in, arrays out of the same kind: given device arrays (x, weights, states, masks) the cell
returns device arrays and nothing crosses the bus; given host (NumPy) arrays it copies them to the
device and the results back. A trace (record_trace=True) is always a host `Trace`, like the
per-timestep gradient norms stored into it: only reports and traces come back to the host.

Validation: host inputs go through the CPU cells' checks (including the NaN check); device inputs
get the shape and dtype checks only (a NaN scan would cost a device-to-host copy per batch).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from rnnsim.cells.base import CellGradients, ForwardResult
from rnnsim.cells.checks import check_sequence_shape, check_weights
from rnnsim.cells.gru import GRUCell
from rnnsim.cells.lstm import LSTMCell
from rnnsim.cells.simple_rnn import SimpleRNNCell
from rnnsim.cuda import gru as gru_kernels
from rnnsim.cuda import kernels
from rnnsim.cuda import lstm as lstm_kernels
from rnnsim.cuda import simple_rnn as simple_rnn_kernels
from rnnsim.cuda.device import require_cuda
from rnnsim.errors import InputError


def to_device(value, dtype=None):
    """A device array from a host array (copied) or a device array (returned as is)."""
    if value is None or kernels.is_device_array(value):
        return value
    array = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    return cuda.to_device(np.ascontiguousarray(array))


def to_host(value):
    """A NumPy array from a device array (copied) or anything else (returned as is)."""
    if isinstance(value, dict):
        return {key: to_host(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(to_host(item) for item in value)
    return value.copy_to_host() if kernels.is_device_array(value) else value


def weights_to_device(weights: dict) -> dict:
    """The weights dict with every array on the device (for a training loop that keeps them there)."""
    return {key: to_device(value) for key, value in weights.items()}


class CudaCellMixin:
    """forward/backward on the device; the subclass names its kernels and buffers."""

    kernel_module = None  # the module holding FORWARD, BACKWARD, SHARED_FORWARD, SHARED_BACKWARD

    # -- validation ------------------------------------------------------------------------

    def _check_device_inputs(self, x, weights, initial_state, mask, input_dropout_mask, recurrent_dropout_mask):
        """Shape and dtype checks for device arrays, with the CPU cells' messages; no copies."""
        batch, timesteps, features = check_sequence_shape(self, x.shape)
        checked, dtype = check_weights(self, weights, features, convert=to_device)
        if np.dtype(x.dtype) != dtype:
            raise InputError(f"{self.name} device input is {x.dtype} but the weights are {dtype}; cast it first")

        def device_of(value, shape, what, value_dtype=dtype):
            value = to_device(value, None if kernels.is_device_array(value) else value_dtype)
            if tuple(value.shape) != shape:
                raise InputError(f"{self.name} {what} has shape {tuple(value.shape)}, expected {shape}")
            if np.dtype(value.dtype) != np.dtype(value_dtype):
                raise InputError(f"{self.name} {what} is {value.dtype}, expected {np.dtype(value_dtype)}")
            return value

        if initial_state is None:
            states = [kernels.zeros((batch, self.units), dtype) for _ in self.state_names]
        else:
            if not isinstance(initial_state, (tuple, list)):
                initial_state = (initial_state,)
            if len(initial_state) != len(self.state_names):
                raise InputError(
                    f"{self.name} needs {len(self.state_names)} initial state array(s), got {len(initial_state)}"
                )
            states = [device_of(state, (batch, self.units), f"initial {name} state")
                      for name, state in zip(self.state_names, initial_state)]
        if mask is None:
            step_mask = None
        elif kernels.is_device_array(mask):
            if tuple(mask.shape) != (batch, timesteps):
                raise InputError(f"{self.name} mask has shape {tuple(mask.shape)}, expected {(batch, timesteps)}")
            if np.dtype(mask.dtype) not in (np.dtype(np.bool_), np.dtype(np.uint8)):
                raise InputError(f"{self.name} device mask is {mask.dtype}, expected bool or uint8")
            step_mask = mask  # the kernels test step_mask[b, t] != 0
        else:
            mask = np.asarray(mask)
            if mask.shape != (batch, timesteps):
                raise InputError(f"{self.name} mask has shape {mask.shape}, expected {(batch, timesteps)}")
            step_mask = to_device(mask.astype(bool).astype(np.uint8))
        input_drop = None if input_dropout_mask is None else device_of(
            input_dropout_mask, (batch, features), "input dropout mask")
        recurrent_drop = None if recurrent_dropout_mask is None else device_of(
            recurrent_dropout_mask, (batch, self.units), "recurrent dropout mask")
        return x, checked, dtype, states, step_mask, mask, input_drop, recurrent_drop

    # -- forward ---------------------------------------------------------------------------

    def forward(self, x, weights, initial_state=None, mask=None, input_dropout_mask=None,
                recurrent_dropout_mask=None, go_backwards=False, record_trace=False, keep_for_backward=True,
                return_sequences=True) -> ForwardResult:
        """As `RecurrentCell.forward` (same Args); device arrays in give device arrays out. The device
        forward always keeps what backward needs (keep_for_backward and return_sequences are accepted for
        the same signature, and ignored)."""
        require_cuda()
        on_device = kernels.is_device_array(x)
        if on_device:
            checked = self._check_device_inputs(x, weights, initial_state, mask, input_dropout_mask,
                                                recurrent_dropout_mask)
            x, weights, dtype, states, step_mask, user_mask, input_drop, recurrent_drop = checked
            if user_mask is not None and kernels.is_device_array(user_mask):
                user_mask = None if not record_trace else to_host(user_mask).astype(bool)
        else:  # the CPU cells' checks (NaN included), then one copy each to the device
            host_weights = {key: to_host(value) for key, value in weights.items()} if isinstance(weights, dict) \
                else weights
            x, host_weights, dtype, states, step_mask, user_mask, input_drop, recurrent_drop = self._check_inputs(
                x, host_weights, initial_state, mask, input_dropout_mask, recurrent_dropout_mask
            )
            x = to_device(np.ascontiguousarray(x))
            step_mask = np.ascontiguousarray(step_mask.T)  # the device kernels are batch-major: (B, T)
            weights = {key: weights[key] if kernels.is_device_array(weights[key]) else to_device(value)
                       for key, value in host_weights.items()}
            states = [to_device(state) for state in states]
            step_mask = None if mask is None else to_device(step_mask)
            input_drop = to_device(input_drop)
            recurrent_drop = to_device(recurrent_drop)
        batch, timesteps, features = x.shape
        width = self.n_blocks * self.units
        if step_mask is None:
            step_mask = to_device(np.ones((batch, timesteps), np.uint8))

        x_in = x if input_drop is None else kernels.scale_by_sequence_mask(x, input_drop)  # (B, T, D)
        x_proj = kernels.matmul(x_in.reshape(batch * timesteps, features), weights["kernel"])  # (B*T, G*U)
        if self.use_bias:
            kernels.add_row_vector(x_proj, self._input_bias(weights))
        x_proj = x_proj.reshape(batch, timesteps, width)  # (B, T, G*U)

        cache = dict(
            x_in=x_in,
            weights=weights,
            dtype=np.dtype(dtype),
            states=states,
            step_mask=step_mask,
            input_drop=input_drop,
            recurrent_drop=recurrent_drop,
            go_backwards=bool(go_backwards),
            on_device=on_device,
        )
        buffers = self._launch_forward(x_proj, cache, bool(record_trace))
        cache.update(buffers)

        hidden = buffers["hidden"]  # (B, T, U) by input position
        last = 0 if go_backwards else timesteps - 1
        final_states = (kernels.take_timestep(hidden, last),)
        if "cell_state" in buffers:
            final_states += (kernels.take_timestep(buffers["cell_state"], last),)
        outputs = kernels.reverse_time(hidden) if go_backwards else hidden

        trace = None
        if record_trace:
            host_buffers = {key: to_host(buffers[key]) for key in buffers}
            trace = self._make_trace(host_buffers, user_mask, bool(go_backwards), time_major=False)
        cache["trace"] = trace
        if not on_device:
            outputs = to_host(outputs)
            final_states = to_host(final_states)
        return ForwardResult(outputs=outputs, final_states=final_states, trace=trace, cache=cache)

    def _input_bias(self, weights):
        return weights["bias"]

    def _launch(self, kernel, shared_vectors, dtype, batch, *args):
        """One block per batch row, threads over the gate columns, `shared_vectors` x U of shared memory."""
        threads = kernels.time_loop_threads(self.n_blocks * self.units)
        shared_bytes = shared_vectors * self.units * np.dtype(dtype).itemsize
        kernel[batch, threads, 0, shared_bytes](*args)

    # -- backward --------------------------------------------------------------------------

    def backward(self, result: ForwardResult, grad_outputs=None, grad_final_states=None) -> CellGradients:
        """As `RecurrentCell.backward` (same Args); device arrays when the forward pass had device input."""
        cache = result.cache
        dtype = cache["dtype"]
        batch, timesteps, units = cache["hidden"].shape
        go_backwards = cache["go_backwards"]

        if grad_outputs is None:
            grad_hidden_seq = None
        else:
            if tuple(grad_outputs.shape) != (batch, timesteps, units):
                raise InputError(
                    f"{self.name} output gradient has shape {tuple(grad_outputs.shape)}, "
                    f"expected {(batch, timesteps, units)}"
                )
            grad_hidden_seq = to_device(grad_outputs, dtype)
            if np.dtype(grad_hidden_seq.dtype) != dtype:
                raise InputError(f"{self.name} device output gradient is {grad_hidden_seq.dtype}, expected {dtype}")
            if go_backwards:  # back to input order, the order of the kernels' buffers
                grad_hidden_seq = kernels.reverse_time(grad_hidden_seq)

        final_grads = []
        grad_final_states = tuple(grad_final_states or ())
        for k, name in enumerate(self.state_names):
            given = grad_final_states[k] if k < len(grad_final_states) else None
            if given is None:
                final_grads.append(kernels.zeros((batch, units), dtype))
                continue
            if tuple(given.shape) != (batch, units):
                raise InputError(f"{self.name} final {name} state gradient has shape {tuple(given.shape)}, "
                                 f"expected {(batch, units)}")
            final_grads.append(to_device(given, dtype))

        out = self._launch_backward(cache, grad_hidden_seq, final_grads)
        grads = self._device_weight_gradients(cache, out)

        trace = cache.get("trace")
        if trace is not None:  # a probe: the norms the views draw, as the CPU cells record them
            trace.grad_hidden_norm = to_host(out["grad_hidden_norm"])
            trace.grad_cell_norm = to_host(out.get("grad_cell_norm"))
            trace.grad_preact_norm = _last_axis_norms(to_host(out["grad_input_preact"]))  # (B, T)
            trace.grad_input_norm = _last_axis_norms(to_host(grads["inputs"]))  # ||dL/dx_t||, (B, T)
        gradients = CellGradients(
            weights=grads["weights"],
            inputs=grads["inputs"],
            initial_state=out["initial_state"],
            grad_hidden_norm=out["grad_hidden_norm"],
            grad_cell_norm=out.get("grad_cell_norm"),
        )
        if not cache["on_device"]:
            gradients = CellGradients(
                weights=to_host(gradients.weights),
                inputs=to_host(gradients.inputs),
                initial_state=to_host(gradients.initial_state),
                grad_hidden_norm=to_host(gradients.grad_hidden_norm),
                grad_cell_norm=to_host(gradients.grad_cell_norm),
            )
        return gradients

    def _device_weight_gradients(self, cache, out) -> dict:
        """dW, dU, db and dx from the per-step pre-activation gradients, as device matrix products."""
        weights = cache["weights"]
        x_in = cache["x_in"]
        batch, timesteps, features = x_in.shape
        width = self.n_blocks * self.units
        rows = batch * timesteps
        grad_in = out["grad_input_preact"].reshape(rows, width)  # (B*T, G*U)
        grad_rec = out["grad_recurrent_preact"].reshape(rows, width)
        previous = kernels.previous_hidden(cache["hidden"], cache["states"][0], cache["recurrent_drop"],
                                           cache["go_backwards"]).reshape(rows, self.units)  # (B*T, U)
        grads = {
            "kernel": kernels.matmul(x_in.reshape(rows, features), grad_in, transpose_a=True),  # (D, G*U)
            "recurrent_kernel": kernels.matmul(previous, grad_rec, transpose_a=True),  # (U, G*U)
        }
        if self.use_bias:
            grads["bias"] = kernels.column_sum(grad_in)  # (G*U,)
        self._adjust_device_weight_gradients(cache, out, grads, grad_in, grad_rec)
        grad_x = kernels.matmul(grad_in, weights["kernel"], transpose_b=True).reshape(batch, timesteps, features)
        if cache["input_drop"] is not None:
            grad_x = kernels.scale_by_sequence_mask(grad_x, cache["input_drop"], grad_x)  # (B, T, D)
        return {"weights": grads, "inputs": grad_x}

    def _adjust_device_weight_gradients(self, cache, out, grads, grad_in, grad_rec):
        """Hook for the GRU."""

    def _recurrent_drop_arg(self, cache):
        drop = cache["recurrent_drop"]
        return (drop, True) if drop is not None else (cache["states"][0], False)  # placeholder when off


def _last_axis_norms(batch_major) -> np.ndarray:
    """The norm over the last axis of a host (B, T, K) array: (B, T)."""
    return np.sqrt(np.einsum("btk,btk->bt", batch_major, batch_major))


class CudaSimpleRNNCell(CudaCellMixin, SimpleRNNCell):
    """Keras's SimpleRNN cell on the device (equations: rnnsim/cells/simple_rnn.py)."""

    def _launch_forward(self, x_proj, cache, record_trace):
        batch, timesteps, units = x_proj.shape
        dtype = cache["dtype"]
        hidden = cuda.device_array((batch, timesteps, units), dtype)
        preactivations = cuda.device_array((batch, timesteps, units) if record_trace else (1, 1, 1), dtype)
        drop, use_drop = self._recurrent_drop_arg(cache)
        self._launch(simple_rnn_kernels.FORWARD[dtype], simple_rnn_kernels.SHARED_FORWARD, dtype, batch,
                     x_proj, cache["weights"]["recurrent_kernel"], cache["states"][0], cache["step_mask"], drop,
                     use_drop, cache["go_backwards"], self.activation_code, record_trace, hidden, preactivations)
        return {"hidden": hidden, "gates": hidden, "preactivations": preactivations}

    def _launch_backward(self, cache, grad_hidden_seq, final_grads):
        hidden = cache["hidden"]
        batch, timesteps, units = hidden.shape
        dtype = cache["dtype"]
        grad_preact = cuda.device_array((batch, timesteps, units), dtype)
        grad_h0 = cuda.device_array((batch, units), dtype)
        grad_hidden_norm = cuda.device_array((batch, timesteps), dtype)
        drop, use_drop = self._recurrent_drop_arg(cache)
        recurrent_kernel_t = _transpose(cache["weights"]["recurrent_kernel"])
        self._launch(simple_rnn_kernels.BACKWARD[dtype], simple_rnn_kernels.SHARED_BACKWARD, dtype, batch,
                     recurrent_kernel_t, cache["step_mask"], drop, use_drop, cache["go_backwards"],
                     self.activation_code, hidden, grad_hidden_seq if grad_hidden_seq is not None else hidden,
                     grad_hidden_seq is not None, final_grads[0], grad_preact, grad_h0, grad_hidden_norm)
        return {
            "grad_input_preact": grad_preact,
            "grad_recurrent_preact": grad_preact,
            "initial_state": (grad_h0,),
            "grad_hidden_norm": grad_hidden_norm,
        }


class CudaLSTMCell(CudaCellMixin, LSTMCell):
    """Keras's LSTM cell on the device (equations: rnnsim/cells/lstm.py)."""

    def _launch_forward(self, x_proj, cache, record_trace):
        batch, timesteps, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        hidden = cuda.device_array((batch, timesteps, units), dtype)
        cell_state = cuda.device_array((batch, timesteps, units), dtype)
        gates = cuda.device_array((batch, timesteps, width), dtype)
        preactivations = cuda.device_array((batch, timesteps, width) if record_trace else (1, 1, 1), dtype)
        drop, use_drop = self._recurrent_drop_arg(cache)
        self._launch(lstm_kernels.FORWARD[dtype], lstm_kernels.SHARED_FORWARD, dtype, batch,
                     x_proj, cache["weights"]["recurrent_kernel"], cache["states"][0], cache["states"][1],
                     cache["step_mask"], drop, use_drop, cache["go_backwards"], self.activation_code,
                     self.recurrent_activation_code, record_trace, hidden, cell_state, gates, preactivations)
        return {"hidden": hidden, "cell_state": cell_state, "gates": gates, "preactivations": preactivations}

    def _launch_backward(self, cache, grad_hidden_seq, final_grads):
        cell_state = cache["cell_state"]
        batch, timesteps, units = cell_state.shape
        dtype = cache["dtype"]
        grad_preact = cuda.device_array((batch, timesteps, 4 * units), dtype)
        grad_h0 = cuda.device_array((batch, units), dtype)
        grad_c0 = cuda.device_array((batch, units), dtype)
        grad_hidden_norm = cuda.device_array((batch, timesteps), dtype)
        grad_cell_norm = cuda.device_array((batch, timesteps), dtype)
        drop, use_drop = self._recurrent_drop_arg(cache)
        self._launch(lstm_kernels.BACKWARD[dtype], lstm_kernels.SHARED_BACKWARD, dtype, batch,
                     _transpose(cache["weights"]["recurrent_kernel"]), cache["states"][0], cache["states"][1],
                     cache["step_mask"], drop, use_drop, cache["go_backwards"], self.activation_code,
                     self.recurrent_activation_code, cell_state, cache["gates"],
                     grad_hidden_seq if grad_hidden_seq is not None else cell_state, grad_hidden_seq is not None,
                     final_grads[0], final_grads[1], grad_preact, grad_h0, grad_c0, grad_hidden_norm,
                     grad_cell_norm)
        return {
            "grad_input_preact": grad_preact,
            "grad_recurrent_preact": grad_preact,
            "initial_state": (grad_h0, grad_c0),
            "grad_hidden_norm": grad_hidden_norm,
            "grad_cell_norm": grad_cell_norm,
        }


class CudaGRUCell(CudaCellMixin, GRUCell):
    """Keras's GRU cell on the device, reset_after True or False (equations: rnnsim/cells/gru.py)."""

    def _input_bias(self, weights):
        return weights["bias"][0] if self.reset_after else weights["bias"]

    def _launch_forward(self, x_proj, cache, record_trace):
        batch, timesteps, width = x_proj.shape
        units = self.units
        dtype = cache["dtype"]
        weights = cache["weights"]
        if self.use_bias and self.reset_after:
            recurrent_bias = weights["bias"][1]
        else:
            recurrent_bias = kernels.zeros(width, dtype)
        hidden = cuda.device_array((batch, timesteps, units), dtype)
        gates = cuda.device_array((batch, timesteps, width), dtype)
        recurrent_candidate = cuda.device_array((batch, timesteps, units), dtype)
        preactivations = cuda.device_array((batch, timesteps, width) if record_trace else (1, 1, 1), dtype)
        drop, use_drop = self._recurrent_drop_arg(cache)
        self._launch(gru_kernels.FORWARD[dtype], gru_kernels.SHARED_FORWARD, dtype, batch,
                     x_proj, weights["recurrent_kernel"], recurrent_bias, self.reset_after, cache["states"][0],
                     cache["step_mask"], drop, use_drop, cache["go_backwards"], self.activation_code,
                     self.recurrent_activation_code, record_trace, hidden, gates, recurrent_candidate,
                     preactivations)
        return {"hidden": hidden, "gates": gates, "recurrent_candidate": recurrent_candidate,
                "preactivations": preactivations}

    def _launch_backward(self, cache, grad_hidden_seq, final_grads):
        hidden = cache["hidden"]
        batch, timesteps, units = hidden.shape
        dtype = cache["dtype"]
        grad_input_preact = cuda.device_array((batch, timesteps, 3 * units), dtype)
        grad_recurrent_preact = cuda.device_array((batch, timesteps, 3 * units), dtype)
        grad_h0 = cuda.device_array((batch, units), dtype)
        grad_hidden_norm = cuda.device_array((batch, timesteps), dtype)
        drop, use_drop = self._recurrent_drop_arg(cache)
        self._launch(gru_kernels.BACKWARD[dtype], gru_kernels.SHARED_BACKWARD, dtype, batch,
                     _transpose(cache["weights"]["recurrent_kernel"]), self.reset_after, cache["states"][0],
                     cache["step_mask"], drop, use_drop, cache["go_backwards"], self.activation_code,
                     self.recurrent_activation_code, hidden, cache["gates"], cache["recurrent_candidate"],
                     grad_hidden_seq if grad_hidden_seq is not None else hidden, grad_hidden_seq is not None,
                     final_grads[0], grad_input_preact, grad_recurrent_preact, grad_h0, grad_hidden_norm)
        return {
            "grad_input_preact": grad_input_preact,
            "grad_recurrent_preact": grad_recurrent_preact,
            "initial_state": (grad_h0,),
            "grad_hidden_norm": grad_hidden_norm,
        }

    def _adjust_device_weight_gradients(self, cache, out, grads, grad_in, grad_rec):
        units = self.units
        if not self.reset_after:
            # The candidate block of U multiplies r * h_{t-1}, not h_{t-1}.
            reset_hidden = cache["recurrent_candidate"].reshape(-1, units)  # (B*T, U)
            kernels.matmul(reset_hidden, grad_rec[:, 2 * units:], out=grads["recurrent_kernel"][:, 2 * units:],
                           transpose_a=True)
        if self.use_bias and self.reset_after:
            bias = cuda.device_array((2, 3 * units), cache["dtype"])  # (2, 3U): input row, recurrent row
            kernels.column_sum(grad_in, bias[0])
            kernels.column_sum(grad_rec, bias[1])
            grads["bias"] = bias


def _transpose(matrix):
    """A contiguous device copy of matrix^T (U^T for the backward kernels' coalesced reads)."""
    return kernels.transpose(matrix)


DEVICE_CELLS = {"simple_rnn": CudaSimpleRNNCell, "lstm": CudaLSTMCell, "gru": CudaGRUCell}


def make_device_cell(cpu_cell):
    """The device twin of a CPU cell: same class family, units and options. Raises InputError if unusable."""
    require_cuda()
    if isinstance(cpu_cell, CudaCellMixin):
        return cpu_cell
    name = getattr(cpu_cell, "name", None)
    if name not in DEVICE_CELLS:
        raise InputError(f"no device version of {type(cpu_cell).__name__}")
    options = dict(activation=cpu_cell.activation, use_bias=cpu_cell.use_bias)
    if name != "simple_rnn":
        options["recurrent_activation"] = cpu_cell.recurrent_activation
    if name == "gru":
        options["reset_after"] = cpu_cell.reset_after
    return DEVICE_CELLS[name](cpu_cell.units, **options)
