"""Optimizers with Keras 3's update rules: SGD, RMSprop, Adam.

Each optimizer updates the model's weight arrays in place. The rules, exactly as Keras 3
writes them (g = gradient, lr = learning rate, t = iterations + 1):

    SGD       momentum 0:  w -= lr g
              otherwise:   m = momentum m - lr g;  w += m   (nesterov: w += momentum m - lr g)
    RMSprop   v = rho v + (1 - rho) g^2
              centered:    a = rho a + (1 - rho) g;  denominator = v - a^2 + epsilon
              otherwise:   denominator = v + epsilon            (epsilon INSIDE the square root)
              step = lr g / sqrt(denominator)
              momentum 0:  w -= step;  otherwise  m = momentum m + step;  w -= m
    Adam      alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
              m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
              amsgrad:     v_hat = max(v_hat, v), used in place of v
              w -= alpha m / (sqrt(v) + epsilon)                  (epsilon OUTSIDE the square root)

Gradient clipping (at most one of them, as Keras): `clipnorm` scales each gradient to norm
<= clipnorm; `global_clipnorm` scales all of them together; `clipvalue` clips elementwise.

Sparse gradients. An Embedding's gradient arrives as `SparseRows` (the rows the batch used,
duplicates already summed), never as a dense vocabulary-sized array. Keras 3 treats such a
gradient as dense with zeros in the untouched rows (its `update_step` densifies it): an
untouched row's RMSprop velocity still decays and an untouched row still moves under Adam's
or SGD-momentum's first moment. We keep exactly that result, so a model trains the same
whether or not its gradient was sparse, but do it without a gradient array: one in-place pass
over the optimizer state with g = 0 for untouched rows (and no pass at all where the
zero-gradient update is the identity, i.e. plain SGD).

Kernels are Numba loops over rows, so one kernel serves dense weights (every row touched)
and sparse ones, and no temporaries are allocated per step.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rnnsim.cells import cache  # noqa: F401  (a writable Numba cache before the kernels below are decorated)
from rnnsim.errors import InputError
from rnnsim.sparse import SparseRows

# ---------------------------------------------------------------------------------------
# Kernels. `row_slot[r]` is the row of `gradient_rows` holding row r's gradient, or -1 when
# row r has no gradient (treated as zero). Weights are viewed as 2-D (rows, columns).


@njit(cache=True)
def _sgd_plain_rows(variable, gradient_rows, rows, learning_rate):
    for k in range(rows.shape[0]):
        r = rows[k]
        for j in range(variable.shape[1]):
            variable[r, j] -= learning_rate * gradient_rows[k, j]


@njit(cache=True)
def _sgd_momentum(variable, gradient_rows, row_slot, momentum_buffer, learning_rate, momentum, nesterov):
    for r in range(variable.shape[0]):
        slot = row_slot[r]
        for j in range(variable.shape[1]):
            g = gradient_rows[slot, j] if slot >= 0 else 0.0
            m = momentum * momentum_buffer[r, j] - g * learning_rate
            momentum_buffer[r, j] = m
            if nesterov:
                variable[r, j] += momentum * m - g * learning_rate
            else:
                variable[r, j] += m


@njit(cache=True)
def _rmsprop(
    variable,
    gradient_rows,
    row_slot,
    velocity,
    average_gradient,
    momentum_buffer,
    learning_rate,
    rho,
    momentum,
    epsilon,
    centered,
):
    for r in range(variable.shape[0]):
        slot = row_slot[r]
        for j in range(variable.shape[1]):
            g = gradient_rows[slot, j] if slot >= 0 else 0.0
            v = rho * velocity[r, j] + (1.0 - rho) * g * g
            velocity[r, j] = v
            if centered:
                a = rho * average_gradient[r, j] + (1.0 - rho) * g
                average_gradient[r, j] = a
                denominator = v - a * a + epsilon
            else:
                denominator = v + epsilon
            step = learning_rate * g / math.sqrt(denominator)
            if momentum > 0.0:
                m = momentum * momentum_buffer[r, j] + step
                momentum_buffer[r, j] = m
                variable[r, j] -= m
            else:
                variable[r, j] -= step


@njit(cache=True)
def _adam(variable, gradient_rows, row_slot, first_moment, second_moment, velocity_hat, alpha, beta_1, beta_2,
          epsilon, amsgrad):
    for r in range(variable.shape[0]):
        slot = row_slot[r]
        for j in range(variable.shape[1]):
            g = gradient_rows[slot, j] if slot >= 0 else 0.0
            m = first_moment[r, j] + (g - first_moment[r, j]) * (1.0 - beta_1)
            v = second_moment[r, j] + (g * g - second_moment[r, j]) * (1.0 - beta_2)
            first_moment[r, j] = m
            second_moment[r, j] = v
            if amsgrad:
                v = max(velocity_hat[r, j], v)
                velocity_hat[r, j] = v
            variable[r, j] -= m * alpha / (math.sqrt(v) + epsilon)


def _as_rows(array: np.ndarray) -> np.ndarray:
    """A 2-D (rows, columns) view of a weight or gradient, sharing its memory."""
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(1, -1)
    return array.reshape(-1, array.shape[-1])


# ---------------------------------------------------------------------------------------


class Optimizer:
    """Base class: clipping, state (slots and the iteration count), configs.

    Args:
        learning_rate: step size.
        clipnorm: clip each gradient to this L2 norm (default None).
        clipvalue: clip each gradient element to [-clipvalue, clipvalue] (default None).
        global_clipnorm: clip all gradients together to this L2 norm (default None).
        name: the optimizer's name.
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None, global_clipnorm=None, name="optimizer"):
        set_options = [option for option in (clipnorm, clipvalue, global_clipnorm) if option is not None]
        if len(set_options) > 1:
            raise InputError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        for label, value in (("learning_rate", learning_rate), ("clipnorm", clipnorm),
                             ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if value is not None and (not np.isfinite(value) or value < 0):
                raise InputError(f"{label} must be a non-negative number, got {value!r}")
        self.learning_rate = float(learning_rate)
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name
        self.iterations = 0
        self.slots: list[dict[str, np.ndarray]] | None = None  # one dict per variable
        self._row_slots: dict[int, np.ndarray] = {}  # per-variable (rows,) int64 scratch, all -1 at rest

    # -- state -----------------------------------------------------------------------------

    def build(self, variables: list[np.ndarray]) -> None:
        """Create zero slots for each variable (Keras: on the first update)."""
        self.slots = [
            {slot: np.zeros_like(variable) for slot in self.active_slots()} for variable in variables
        ]

    def active_slots(self) -> tuple[str, ...]:
        """The slots this configuration uses (e.g. RMSprop's 'momentum' only with momentum > 0)."""
        return self.slot_names

    def get_state(self) -> tuple[int, list[tuple[int, str, np.ndarray]]]:
        """(iterations, [(variable index, slot name, array), ...]) for saving."""
        entries = []
        for index, slots in enumerate(self.slots or []):
            for slot_name, array in slots.items():
                entries.append((index, slot_name, array))
        return self.iterations, entries

    def set_state(self, iterations: int, entries, variables: list[np.ndarray]) -> None:
        """Restore what `get_state` returned; shapes are checked against `variables`."""
        self.build(variables)
        for index, slot_name, array in entries:
            if index >= len(self.slots) or slot_name not in self.slots[index]:
                raise InputError(f"optimizer state has an unexpected slot {slot_name!r} for variable {index}")
            target = self.slots[index][slot_name]
            if array.shape != target.shape:
                raise InputError(
                    f"optimizer slot {slot_name!r} of variable {index} has shape {array.shape}, "
                    f"expected {target.shape}"
                )
            target[...] = array
        self.iterations = int(iterations)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # -- updates ---------------------------------------------------------------------------

    def apply_gradients(self, gradients: list, variables: list[np.ndarray]) -> None:
        """Update `variables` in place from `gradients` (arrays or `SparseRows`, same order).

        Args:
            gradients: one per variable; None skips the variable.
            variables: the weight arrays (C-contiguous), updated in place.
        """
        if self.slots is None:
            self.build(variables)
        if len(gradients) != len(variables) or len(self.slots) != len(variables):
            raise InputError(
                f"optimizer was built for {len(self.slots)} variables, got {len(variables)} variables "
                f"and {len(gradients)} gradients; compile the model again after adding or removing layers"
            )
        for index, (slots, variable) in enumerate(zip(self.slots, variables)):
            for slot in slots.values():  # the kernels index the slots as the variable: never past their end
                if slot.shape != variable.shape:
                    raise InputError(f"optimizer was built for a variable {index} of shape {slot.shape}, got "
                                     f"{variable.shape}; compile the model again after adding or removing layers")
        gradients = self._clip(gradients)
        for index, (gradient, variable) in enumerate(zip(gradients, variables)):
            if gradient is None:
                continue
            self._update(index, variable, gradient)
        self.iterations += 1

    def _clip(self, gradients: list) -> list:
        if self.clipnorm is None and self.clipvalue is None and self.global_clipnorm is None:
            return gradients

        def values_of(gradient):
            return gradient.values if isinstance(gradient, SparseRows) else gradient

        def scaled(gradient, factor):
            if isinstance(gradient, SparseRows):
                return SparseRows(gradient.rows, gradient.values * factor, gradient.shape)
            return gradient * factor

        if self.clipvalue is not None:
            limit = self.clipvalue
            return [
                None if g is None
                else SparseRows(g.rows, np.clip(g.values, -limit, limit), g.shape) if isinstance(g, SparseRows)
                else np.clip(g, -limit, limit)
                for g in gradients
            ]
        if self.clipnorm is not None:
            clipped = []
            for g in gradients:
                if g is None:
                    clipped.append(None)
                    continue
                norm = float(np.sqrt(np.sum(np.square(values_of(g), dtype=np.float64))))
                clipped.append(scaled(g, self.clipnorm / max(norm, self.clipnorm)) if norm > 0 else g)
            return clipped
        total = math.sqrt(sum(float(np.sum(np.square(values_of(g), dtype=np.float64)))
                              for g in gradients if g is not None))
        if total <= self.global_clipnorm or total == 0.0:
            return gradients
        factor = self.global_clipnorm / total
        return [None if g is None else scaled(g, factor) for g in gradients]

    def _row_view(self, index: int, variable: np.ndarray, gradient):
        """(variable rows, gradient rows, row_slot, touched rows or None) for the kernels."""
        variable_rows = _as_rows(variable)
        if isinstance(gradient, SparseRows):
            row_slot = self._row_slots.get(index)
            if row_slot is None or row_slot.shape[0] != variable_rows.shape[0]:
                row_slot = np.full(variable_rows.shape[0], -1, dtype=np.int64)
                self._row_slots[index] = row_slot
            values = np.ascontiguousarray(gradient.values, dtype=variable.dtype)
            return variable_rows, values, row_slot, np.asarray(gradient.rows, dtype=np.int64)
        gradient = np.ascontiguousarray(gradient, dtype=variable.dtype)
        if gradient.shape != variable.shape:
            raise InputError(f"gradient of shape {gradient.shape} does not match its weight {variable.shape}")
        row_slot = self._row_slots.get(-1 - index)
        if row_slot is None or row_slot.shape[0] != variable_rows.shape[0]:
            row_slot = np.arange(variable_rows.shape[0], dtype=np.int64)  # dense: every row has a gradient
            self._row_slots[-1 - index] = row_slot
        return variable_rows, _as_rows(gradient), row_slot, None

    def _update(self, index, variable, gradient):
        variable_rows, gradient_rows, row_slot, touched = self._row_view(index, variable, gradient)
        if touched is not None:
            row_slot[touched] = np.arange(touched.shape[0])
        try:
            self._kernel(index, variable_rows, gradient_rows, row_slot, touched)
        finally:
            if touched is not None:
                row_slot[touched] = -1  # back to "no gradient" for the next sparse step

    def _kernel(self, index, variable_rows, gradient_rows, row_slot, touched):
        raise NotImplementedError

    def _slot_rows(self, index, slot_name, dtype):
        slot = self.slots[index].get(slot_name)
        if slot is None:  # unused by this configuration: a dummy so the kernel signature stays fixed
            return np.zeros((1, 1), dtype=dtype)
        return _as_rows(slot)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Args:
        learning_rate: default 0.01.
        momentum: default 0.0.
        nesterov: default False.
        clipnorm, clipvalue, global_clipnorm: see `Optimizer` (default None).
        name: default 'SGD'.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="SGD"):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, name)
        if not 0.0 <= momentum <= 1.0:
            raise InputError(f"momentum must be in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def active_slots(self):
        return ("momentum",) if self.momentum > 0 else ()

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _kernel(self, index, variable_rows, gradient_rows, row_slot, touched):
        if self.momentum == 0.0:
            rows = touched if touched is not None else row_slot
            _sgd_plain_rows(variable_rows, gradient_rows, rows, self.learning_rate)
            return
        _sgd_momentum(variable_rows, gradient_rows, row_slot, self._slot_rows(index, "momentum", variable_rows.dtype),
                      self.learning_rate, self.momentum, self.nesterov)


class RMSprop(Optimizer):
    """RMSprop as Keras 3 writes it (epsilon inside the square root).

    Args:
        learning_rate: default 0.001.
        rho: decay of the squared-gradient average, default 0.9.
        momentum: default 0.0.
        epsilon: default 1e-7.
        centered: divide by the gradient's estimated variance instead of its second moment, default False.
        clipnorm, clipvalue, global_clipnorm: see `Optimizer` (default None).
        name: default 'rmsprop'.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="rmsprop"):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, name)
        if not 0.0 <= rho < 1.0:
            raise InputError(f"rho must be in [0, 1), got {rho!r}")
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def active_slots(self):
        slots = ["velocity"]
        if self.momentum > 0:
            slots.append("momentum")
        if self.centered:
            slots.append("average_gradient")
        return tuple(slots)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _kernel(self, index, variable_rows, gradient_rows, row_slot, touched):
        dtype = variable_rows.dtype
        _rmsprop(variable_rows, gradient_rows, row_slot, self._slot_rows(index, "velocity", dtype),
                 self._slot_rows(index, "average_gradient", dtype), self._slot_rows(index, "momentum", dtype),
                 self.learning_rate, self.rho, self.momentum, self.epsilon, self.centered)


class Adam(Optimizer):
    """Adam as Keras 3 writes it (bias correction folded into the step size, epsilon outside the root).

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7.
        amsgrad: default False.
        clipnorm, clipvalue, global_clipnorm: see `Optimizer` (default None).
        name: default 'adam'.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adam"):
        super().__init__(learning_rate, clipnorm, clipvalue, global_clipnorm, name)
        for label, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= value < 1.0:
                raise InputError(f"{label} must be in [0, 1), got {value!r}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def active_slots(self):
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def _kernel(self, index, variable_rows, gradient_rows, row_slot, touched):
        step = self.iterations + 1
        alpha = self.learning_rate * math.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)
        dtype = variable_rows.dtype
        _adam(variable_rows, gradient_rows, row_slot, self._slot_rows(index, "momentum", dtype),
              self._slot_rows(index, "velocity", dtype), self._slot_rows(index, "velocity_hat", dtype), alpha,
              self.beta_1, self.beta_2, self.epsilon, self.amsgrad)


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier) -> Optimizer:
    """An optimizer from a Keras name ('rmsprop', 'adam', 'sgd'), a config dict, or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        class_name = str(identifier.get("class_name", "")).lower()
        if class_name not in OPTIMIZERS:
            raise InputError(f"unknown optimizer class {identifier.get('class_name')!r}")
        return OPTIMIZERS[class_name].from_config(identifier.get("config", {}))
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise InputError(f"unknown optimizer {identifier!r}; choose one of {', '.join(OPTIMIZERS)} or pass an instance")


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
