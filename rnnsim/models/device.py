"""Where a model's recurrent layers run, and the optimizer step when they run on the GPU.

On 'cuda' the recurrent layers (SimpleRNN, LSTM, GRU, also inside Bidirectional) keep their weights
on the device, and so do their optimizer slots; the other layers and the loss stay on the host. The
host arrays (`layer.weights`, `optimizer.slots`) are refreshed lazily, by `_sync_host()`, before
anything reads them: `model.weights`, `get_weights()`, `save()`.
"""

from __future__ import annotations

import math

import numpy as np

from rnnsim.errors import InputError
from rnnsim.layers import RNN, Bidirectional
from rnnsim.sparse import SparseRows


def check_device(device) -> str:
    """'cpu' or 'cuda'; for 'cuda', require_cuda() first (one-line InputError when unusable)."""
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}; choose 'cpu' or 'cuda'")
    if device == "cuda":
        from rnnsim.cuda import require_cuda

        require_cuda()
    return device


def runs_on_device(layer) -> bool:
    """Does this layer move to the model's device (the recurrent layers) or always stay on the host?"""
    return isinstance(layer, (RNN, Bidirectional))


def host_copy(array):
    """A host copy of a NumPy or device array."""
    return array.copy_to_host() if hasattr(array, "copy_to_host") else array.copy()


class DevicePlacement:
    """Mixin of a model with a `layers` list, an `optimizer` and a `device`: placement and the device step."""

    def _init_device(self, device) -> None:
        self.device = check_device(device)
        self._device_slots = None  # on 'cuda': {variable index: {slot name: device array}}
        self._slots_host_stale = False  # the device slots moved on; optimizer.slots must be refreshed

    def to_device(self, device):
        """Move the recurrent layers, their weights and optimizer slots to 'cpu' or 'cuda'; returns self.

        See the `device` argument of `Sequential`. Raises InputError (one line) when CUDA is unusable.

        Args:
            device: 'cpu' or 'cuda'.
        """
        device = check_device(device)
        if device != self.device:
            self._sync_host()
            for layer in self.layers:
                if runs_on_device(layer):
                    layer.set_device(device)
            self.device = device
            self._device_slots = None  # rebuilt from optimizer.slots at the next step
        return self

    def _sync_host(self) -> None:
        """Copy device weights and optimizer slots that moved on into their host arrays."""
        for layer in self.layers:
            if runs_on_device(layer):
                layer.sync_to_host()
        if self._device_slots is not None and self._slots_host_stale:
            for index, slots in self._device_slots.items():
                for name, slot in slots.items():
                    slot.copy_to_host(self.optimizer.slots[index][name])
        self._slots_host_stale = False

    def _release_device_slots(self) -> None:
        """Hand the device optimizer slots back to the host optimizer and forget them (before compile)."""
        if self._device_slots is not None:
            self._sync_host()
            self._device_slots = None

    def _device_variables(self) -> list:
        """Parallel to `weights`: the device array holding each weight, or None for a host weight."""
        found = []
        for layer in self.layers:
            on_device = layer.device_weights if runs_on_device(layer) else None
            found.extend(on_device if on_device is not None else [None] * len(layer.weights))
        return found

    def _apply_gradients(self, gradients) -> None:
        """One optimizer step from `gradients` (in get_weights order), on the host or the device."""
        if self.device == "cpu":
            self.optimizer.apply_gradients(gradients, self.weights)
        else:
            self._apply_gradients_on_device(gradients)

    def _apply_gradients_on_device(self, gradients) -> None:
        """One optimizer step with the recurrent weights on the device (Keras's rules, as the CPU's).

        Device weights are updated by rnnsim.cuda.optim's kernels with device slots; host weights
        (Embedding, Dense) by the CPU optimizer; both with the same iteration count, which then
        advances once. global_clipnorm is computed over all gradients, host and device together.
        """
        from rnnsim.cuda import optim, to_device  # late: importing them imports numba.cuda

        opt = self.optimizer
        host_variables = [w for layer in self.layers for w in layer.weights]  # no sync: only shapes are used
        device_variables = self._device_variables()
        if opt.slots is None:
            opt.build(host_variables)
        if self._device_slots is None:  # from the host slots: zeros, or what load_model restored
            self._device_slots = {index: {name: to_device(slot) for name, slot in opt.slots[index].items()}
                                  for index, variable in enumerate(device_variables) if variable is not None}
        host_gradients = [None if variable is not None else gradient
                          for gradient, variable in zip(gradients, device_variables)]
        device_pairs = [(index, gradient) for index, (gradient, variable) in enumerate(zip(gradients, device_variables))
                        if variable is not None and gradient is not None]
        device_gradients = [gradient for _, gradient in device_pairs]
        if opt.global_clipnorm is not None:
            squares = sum(float(np.sum(np.square(g.values if isinstance(g, SparseRows) else g, dtype=np.float64)))
                          for g in host_gradients if g is not None)
            total = math.sqrt(squares + sum(optim.squared_norm(g) for g in device_gradients))
            if total > opt.global_clipnorm:
                factor = opt.global_clipnorm / total
                host_gradients = [None if g is None else SparseRows(g.rows, g.values * factor, g.shape)
                                  if isinstance(g, SparseRows) else g * factor for g in host_gradients]
                for g in device_gradients:
                    optim.scale_and_clip(g, factor)
        else:
            optim.clip_gradients(opt, device_gradients)  # clipvalue / clipnorm, per gradient
        for index, gradient in device_pairs:
            optim.apply_update(opt, device_variables[index], gradient, self._device_slots[index], opt.iterations)
        opt.apply_gradients(host_gradients, host_variables)  # host weights; iterations += 1
        for layer in self.layers:
            if runs_on_device(layer):
                layer.mark_host_stale()
        self._slots_host_stale = True
