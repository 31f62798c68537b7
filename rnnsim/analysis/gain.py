"""Per-step gradient gain: the factor by which one step back in time multiplies the gradient.

    g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||

The product of g_t from the last step back to the first *is* the vanishing (or exploding) gradient:
it telescopes to ||dL/dh_first|| / ||dL/dh_last||, the ratio the Compare tab prints. A geometric
mean gain of 0.8 per step is 0.8^99 = 2.5e-10 across 100 steps; 0.97 is 5e-2.

What each cell adds beside it:

- LSTM: the cell path, ||dL/dc_{t-1}|| / ||dL/dc_t||, and the mean forget gate f_t. Along c the
  gradient is multiplied by f_t (dc_{t-1} = dc_t * f_t + what arrives through h_{t-1}), not squashed
  by an activation's derivative and the recurrent matrix U: where f stays near 1 the gain does too.
- GRU: the mean update gate z_t (dh_{t-1} receives dh_t * z_t directly, the GRU's leak-free path).
- SimpleRNN: the two factors of its Jacobian, dL/dh_{t-1} = (dL/dh_t * tanh'(a_t)) U^T:
  tanh_factor = ||dL/da_t|| / ||dL/dh_t|| (what the activation's slope takes out) and
  recurrent_factor = ||dL/dh_{t-1}|| / ||dL/da_t|| (what U does to it); their product is g_t exactly.
  `recurrent_norm(U)`, the largest singular value, bounds the second.

Steps are indexed by input position t; "t-1" is the step processed just before t (t+1 for a layer
that reads backwards). Over several samples the per-sample gains are averaged geometrically (the
mean of their logarithms), so that the product of the averaged gains equals the ratio of the
geometric-mean gradient curves (`rnnsim.render.lineplot.mean_gradient_norm`) to rounding. A norm
of exactly 0 has underflowed float32 and counts as 1e-38, as it does there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNDERFLOW = 1e-38  # the smallest norm counted; float32's normal range ends near 1.2e-38


def mean_norms(norms) -> np.ndarray:
    """Gradient norms (samples, T) averaged over the samples geometrically, a norm of 0 counted as UNDERFLOW:
    the batch's curve on a log plot, the same in the terminal (`render.lineplot`) and in `rnnsim.plot`."""
    logs = np.log(np.maximum(np.asarray(norms, dtype=np.float64), UNDERFLOW))
    return np.exp(logs.mean(axis=0))


@dataclass
class GainProfile:
    """Per-step gains of one recurrent layer's trace (one sample, or the geometric mean over a batch).

    Every array is (T,) by input position, NaN at the first processed step (nothing before it).
    """

    cell: str  # 'simple_rnn' | 'lstm' | 'gru'
    gain: np.ndarray  # g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||
    first: int  # input position processed first (0, or T-1 when the layer reads backwards)
    last: int  # input position processed last
    total: float  # product of the gains: ||dL/dh_first|| / ||dL/dh_last||
    cell_gain: np.ndarray | None = None  # LSTM: ||dL/dc_{t-1}|| / ||dL/dc_t||
    forget_mean: np.ndarray | None = None  # LSTM: f_t, mean over units (and samples)
    forget_max: np.ndarray | None = None  # LSTM: the largest f_t over units (mean over samples): the units whose
    # f stays near 1 are the ones the cell-path gradient rides on, however low the mean is
    update_mean: np.ndarray | None = None  # GRU: z_t, mean over units (and samples)
    tanh_factor: np.ndarray | None = None  # SimpleRNN: ||dL/da_t|| / ||dL/dh_t||
    recurrent_factor: np.ndarray | None = None  # SimpleRNN: ||dL/dh_{t-1}|| / ||dL/da_t||
    recurrent_norm: float | None = None  # SimpleRNN: the largest singular value of U, when weights are known
    samples: int = 1  # how many samples were averaged

    @property
    def steps(self) -> int:
        return int(self.gain.shape[0])

    @property
    def geometric_mean(self) -> float:
        """The typical gain per step: total ** (1 / (T - 1))."""
        return _geometric_mean(self.gain)

    @property
    def cell_total(self) -> float | None:
        """LSTM: the product of the cell-path gains, ||dL/dc_first|| / ||dL/dc_last||."""
        return None if self.cell_gain is None else float(np.exp(np.nansum(np.log(self.cell_gain))))

    def factor_means(self) -> dict[str, float]:
        """SimpleRNN: the geometric mean per step of each factor; {} for other cells."""
        if self.tanh_factor is None or self.recurrent_factor is None:
            return {}
        return {"tanh'": _geometric_mean(self.tanh_factor), "U": _geometric_mean(self.recurrent_factor)}

    def sentence(self) -> str:
        """What the plot shows, in one line: 'from t=99 back to t=0 the gradient is multiplied by 7.7e-11 ...'."""
        text = (f"from t={self.last} back to t={self.first} the gradient is multiplied by {_number(self.total)} "
                f"({self.geometric_mean:.3g} per step on average)")
        factors = self.factor_means()
        if factors:
            slope, matrix = factors["tanh'"], factors["U"]
            text += f"; tanh' contributes {slope:.3g} per step and U {matrix:.3g}"
            if self.recurrent_norm is not None:
                text += f" (its largest singular value is {self.recurrent_norm:.3g})"
        if self.cell_gain is not None and self.forget_mean is not None:
            text += (f"; along the cell state c: {_number(self.cell_total)} "
                     f"({_geometric_mean(self.cell_gain):.3g} per step; f: mean {np.nanmean(self.forget_mean):.2f}, "
                     f"largest unit's {np.nanmean(self.forget_max):.2f})")
        if self.update_mean is not None:
            text += f"; mean update gate z = {np.nanmean(self.update_mean):.3g}"
        return text


def _number(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "nothing measurable"
    return f"{value:.2g}" if 1e-2 <= value < 1e3 else f"{value:.1e}"


def _geometric_mean(values: np.ndarray) -> float:
    logs = np.log(np.asarray(values, dtype=np.float64))
    logs = logs[np.isfinite(logs)]
    return float(np.exp(logs.mean())) if logs.size else float("nan")


def _order(trace) -> np.ndarray:
    """Input positions in processing order."""
    steps = np.arange(trace.timesteps)
    return steps[::-1] if trace.go_backwards else steps


def _log_norms(norms, sample) -> np.ndarray:
    """log of (S, T) norms, clamped at the float32 underflow; one sample or all."""
    norms = np.asarray(norms, dtype=np.float64)
    if sample is not None:
        norms = norms[sample : sample + 1]
    return np.log(np.maximum(norms, UNDERFLOW))


def _step_back(log_values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(S, T) log(v_{previous(t)}) - log(v_t) by input position t; NaN where nothing came before."""
    ratio = np.full(log_values.shape, np.nan)
    ratio[:, order[1:]] = log_values[:, order[:-1]] - log_values[:, order[1:]]
    return ratio


def _gate_mean(trace, name, sample) -> np.ndarray | None:
    gate = trace.gates.get(name)
    if gate is None:
        return None
    gate = np.asarray(gate, dtype=np.float64)
    if sample is not None:
        gate = gate[sample : sample + 1]
    return gate.mean(axis=(0, 2))


def recurrent_norm(recurrent_kernel) -> float:
    """The largest singular value of U: no step can multiply ||dL/da_t|| by more than this."""
    return float(np.linalg.norm(np.asarray(recurrent_kernel, dtype=np.float64), 2))


def gain_profile(trace, sample: int | None = None, recurrent_kernel=None) -> GainProfile | None:
    """The per-step gains of a trace whose backward pass has run (None before it has).

    Args:
        trace: a `rnnsim.cells.trace.Trace` with `grad_hidden_norm` filled in (a probe's).
        sample: one sample's gains (an index into the trace's batch), or None (default) for the
            geometric mean over every sample.
        recurrent_kernel: a SimpleRNN's U, (U, U), for its largest singular value (optional).
    """
    if trace.grad_hidden_norm is None:
        return None
    if sample is not None and not 0 <= sample < trace.batch_size:
        raise IndexError(f"sample {sample} is out of range: the trace holds {trace.batch_size} samples")
    order = _order(trace)
    hidden_logs = _log_norms(trace.grad_hidden_norm, sample)
    log_gain = _step_back(hidden_logs, order)  # (S, T)
    profile = GainProfile(
        cell=trace.cell,
        gain=np.exp(log_gain.mean(axis=0)),
        first=int(order[0]),
        last=int(order[-1]),
        total=float(np.exp(hidden_logs[:, order[0]].mean() - hidden_logs[:, order[-1]].mean())),
        samples=hidden_logs.shape[0],
    )
    if trace.cell == "lstm" and trace.grad_cell_norm is not None:
        profile.cell_gain = np.exp(_step_back(_log_norms(trace.grad_cell_norm, sample), order).mean(axis=0))
        profile.forget_mean = _gate_mean(trace, "forget", sample)
        forget = np.asarray(trace.gates["forget"], dtype=np.float64)
        forget = forget[sample : sample + 1] if sample is not None else forget
        profile.forget_max = forget.max(axis=2).mean(axis=0)
    if trace.cell == "gru":
        profile.update_mean = _gate_mean(trace, "update", sample)
    if trace.cell == "simple_rnn" and trace.grad_preact_norm is not None:
        preact_logs = _log_norms(trace.grad_preact_norm, sample)
        log_tanh = preact_logs - hidden_logs  # log ||da_t|| - log ||dh_t||, by input position
        if trace.mask is not None:  # a padded step carries h over: no tanh', the gradient passes as it is
            frozen = ~np.asarray(trace.mask, bool)
            frozen = frozen[sample : sample + 1] if sample is not None else frozen
            log_tanh = np.where(frozen, 0.0, log_tanh)
        log_tanh[:, order[0]] = np.nan
        log_recurrent = log_gain - log_tanh  # so that the two factors multiply to g_t exactly
        profile.tanh_factor = np.exp(log_tanh.mean(axis=0))
        profile.recurrent_factor = np.exp(log_recurrent.mean(axis=0))
        if recurrent_kernel is not None:
            profile.recurrent_norm = recurrent_norm(recurrent_kernel)
    return profile
