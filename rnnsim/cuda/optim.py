"""Optimizer updates on the device, so a training loop keeps weights and optimizer state resident.

The update rules are Keras 3's, exactly as `rnnsim/optimizers.py` writes them (that module's
docstring has the formulas: SGD with (Nesterov) momentum, RMSprop with epsilon inside the square
root, Adam with bias correction folded into the step size). Each rule here is one elementwise
kernel over the flattened variable; slots have the CPU optimizer's names and shapes
('momentum', 'velocity', 'average_gradient', 'velocity_hat'), so state moves between the two.

Two ways in:

    apply_update(optimizer, variable, gradient, slots, iteration)   # one variable, one step
    DeviceOptimizer(optimizer).apply_gradients(gradients, variables) # all of them, clipping, iterations

Dense gradients only (the device path has no sparse Embedding rows yet).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from rnnsim import optimizers
from rnnsim.cuda import kernels
from rnnsim.errors import InputError


@cuda.jit
def _sgd(variable, gradient, momentum_buffer, learning_rate, momentum, nesterov, use_momentum):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, variable.shape[0], stride):
        g = gradient[i]
        if use_momentum:
            m = momentum * momentum_buffer[i] - g * learning_rate
            momentum_buffer[i] = m
            if nesterov:
                variable[i] += momentum * m - g * learning_rate
            else:
                variable[i] += m
        else:
            variable[i] -= learning_rate * g


@cuda.jit
def _rmsprop(variable, gradient, velocity, average_gradient, momentum_buffer, learning_rate, rho, momentum,
             epsilon, centered):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, variable.shape[0], stride):
        g = gradient[i]
        v = rho * velocity[i] + (1.0 - rho) * g * g
        velocity[i] = v
        if centered:
            a = rho * average_gradient[i] + (1.0 - rho) * g
            average_gradient[i] = a
            denominator = v - a * a + epsilon
        else:
            denominator = v + epsilon
        step = learning_rate * g / math.sqrt(denominator)
        if momentum > 0.0:
            m = momentum * momentum_buffer[i] + step
            momentum_buffer[i] = m
            variable[i] -= m
        else:
            variable[i] -= step


@cuda.jit
def _adam(variable, gradient, first_moment, second_moment, velocity_hat, alpha, beta_1, beta_2, epsilon, amsgrad):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, variable.shape[0], stride):
        g = gradient[i]
        m = first_moment[i] + (g - first_moment[i]) * (1.0 - beta_1)
        v = second_moment[i] + (g * g - second_moment[i]) * (1.0 - beta_2)
        first_moment[i] = m
        second_moment[i] = v
        if amsgrad:
            v = max(velocity_hat[i], v)
            velocity_hat[i] = v
        variable[i] -= m * alpha / (math.sqrt(v) + epsilon)


@cuda.jit
def _scale_and_clip(values, factor, limit, use_limit):  # values = clip(values * factor, -limit, limit)
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, values.shape[0], stride):
        value = values[i] * factor
        if use_limit:
            value = min(max(value, -limit), limit)
        values[i] = value


@cuda.jit
def _sum_of_squares(values, out):  # out[0] += sum(values^2), float64
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    acc = 0.0
    for i in range(start, values.shape[0], stride):
        acc += values[i] * values[i]
    cuda.atomic.add(out, 0, acc)


def _flat(array):
    return array.reshape(array.size)


def scale_and_clip(array, factor=1.0, limit=None) -> None:
    """array = clip(array * factor, -limit, limit), in place on the device.

    Args:
        array: a C-contiguous device array (any shape).
        factor: the scale (default 1.0).
        limit: clip to [-limit, limit] after scaling (default None: no clipping).
    """
    use_limit = limit is not None
    _scale_and_clip[kernels.launch(array.size)](_flat(array), factor, limit if use_limit else 0.0, use_limit)


def clip_gradients(optimizer, gradients) -> None:
    """Clip device gradients in place as Keras does for `optimizer` (clipvalue, clipnorm or global_clipnorm).

    clipnorm and global_clipnorm bring one scalar per gradient back to the host.

    Args:
        optimizer: an `rnnsim.optimizers` instance; only its clipping settings are read.
        gradients: device arrays; None entries are skipped.
    """
    present = [g for g in gradients if g is not None]
    if optimizer.clipvalue is not None:
        for g in present:
            scale_and_clip(g, 1.0, optimizer.clipvalue)
    elif optimizer.clipnorm is not None:
        for g in present:
            norm = math.sqrt(squared_norm(g))
            if norm > optimizer.clipnorm:
                scale_and_clip(g, optimizer.clipnorm / norm)
    elif optimizer.global_clipnorm is not None:
        total = math.sqrt(sum(squared_norm(g) for g in present))
        if total > optimizer.global_clipnorm:
            for g in present:
                scale_and_clip(g, optimizer.global_clipnorm / total)


def apply_update(optimizer, variable, gradient, slots: dict, iteration: int) -> None:
    """One update of `variable` (a device array) in place, Keras 3's rule for `optimizer`.

    Args:
        optimizer: an `rnnsim.optimizers` SGD, RMSprop or Adam instance (its hyperparameters are used,
            its state is not touched).
        variable: the weight, a C-contiguous device array; updated in place.
        gradient: its gradient, a device array of the same shape and dtype (already clipped if wanted).
        slots: dict slot name -> device array like `variable` (see `make_slots`); updated in place.
        iteration: the optimizer's iteration count before this step (Adam uses t = iteration + 1).
    """
    if tuple(gradient.shape) != tuple(variable.shape):
        raise InputError(f"gradient of shape {tuple(gradient.shape)} does not match its weight {tuple(variable.shape)}")
    variable_flat = _flat(variable)
    gradient_flat = _flat(gradient)
    launch = kernels.launch(variable_flat.shape[0])

    def slot(name):  # a 1-element placeholder when the configuration does not use the slot
        value = slots.get(name)
        return _flat(value) if value is not None else variable_flat[:1]

    if isinstance(optimizer, optimizers.SGD):
        use_momentum = optimizer.momentum > 0.0
        _sgd[launch](variable_flat, gradient_flat, slot("momentum"), optimizer.learning_rate, optimizer.momentum,
                     optimizer.nesterov, use_momentum)
    elif isinstance(optimizer, optimizers.RMSprop):
        _rmsprop[launch](variable_flat, gradient_flat, slot("velocity"), slot("average_gradient"), slot("momentum"),
                         optimizer.learning_rate, optimizer.rho, optimizer.momentum, optimizer.epsilon,
                         optimizer.centered)
    elif isinstance(optimizer, optimizers.Adam):
        step = iteration + 1
        alpha = optimizer.learning_rate * math.sqrt(1.0 - optimizer.beta_2**step) / (1.0 - optimizer.beta_1**step)
        _adam[launch](variable_flat, gradient_flat, slot("momentum"), slot("velocity"), slot("velocity_hat"), alpha,
                      optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, optimizer.amsgrad)
    else:
        raise InputError(f"no device update for optimizer {type(optimizer).__name__}; use sgd, rmsprop or adam")


def make_slots(optimizer, variable) -> dict:
    """Zero device slots for one variable, named as the CPU optimizer's."""
    return {name: kernels.zeros(variable.shape, variable.dtype) for name in optimizer.active_slots()}


def squared_norm(array) -> float:
    """sum(array^2) of a device array, as a host float (one scalar comes back)."""
    out = cuda.to_device(np.zeros(1, np.float64))
    flat = _flat(array)
    _sum_of_squares[kernels.launch(flat.shape[0])](flat, out)
    return float(out.copy_to_host()[0])


class DeviceOptimizer:
    """A CPU optimizer's rule applied on the device: slots live on the device, the iteration count
    and the hyperparameters on the wrapped `optimizer` (so its config saves as usual).

    Args:
        optimizer: an `rnnsim.optimizers` SGD, RMSprop or Adam instance, or its name.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizers.get(optimizer)
        self.slots: list[dict] | None = None

    def build(self, variables) -> None:
        self.slots = [make_slots(self.optimizer, variable) for variable in variables]

    def apply_gradients(self, gradients: list, variables: list) -> None:
        """Update device `variables` in place from device `gradients` (None skips one); clipping as Keras.

        Clipping scales the gradients in place (clipnorm and global_clipnorm bring one scalar per
        gradient back to the host).
        """
        if self.slots is None:
            self.build(variables)
        if len(gradients) != len(variables) or len(self.slots) != len(variables):
            raise InputError(
                f"optimizer was built for {len(self.slots)} variables, got {len(variables)} variables "
                f"and {len(gradients)} gradients"
            )
        clip_gradients(self.optimizer, gradients)
        for gradient, variable, slots in zip(gradients, variables, self.slots):
            if gradient is not None:
                apply_update(self.optimizer, variable, gradient, slots, self.optimizer.iterations)
        self.optimizer.iterations += 1

    def state_to_host(self) -> None:
        """Copy the device slots into the wrapped optimizer's `slots`, e.g. before saving a checkpoint."""
        if self.slots is not None:
            self.optimizer.slots = [{name: value.copy_to_host() for name, value in slots.items()}
                                    for slots in self.slots]
