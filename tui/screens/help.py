"""The help screen (`?`): every key, what each view shows, and how to read the colours."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# rnnsim: keys

| key | does |
|---|---|
| `s` | start training with the settings of the Setup tab (or resume) |
| `p` | pause / resume |
| `x` | stop |
| `c` | compare: train SimpleRNN, LSTM and GRU briefly on the same data and seed, overlay their gradients |
| `f` | compare an LSTM trained from forget-gate bias 0 with one from 1 (Jozefowicz et al. 2015) |
| `e` `E` | what if: the next / previous value of the cell's knob (LSTM forget bias, GRU update bias, U's scale) |
| `i` | notes: what each view shows, what to look for, what it means (again to hide) |
| `n` | next cell (SimpleRNN → LSTM → GRU) |
| `←` `→` | previous / next timestep (`shift` for 10) |
| `↑` `↓` | previous / next unit |
| `g` `G` | next / previous gate or state |
| `[` `]` | previous / next probe sample |
| `1`–`8` | tabs: Train, Gates, Compare, Setup, Gain, Inputs, Saturation, What-if |
| `o` | open a checkpoint saved by `rnnsim train` / `model.save` |
| `l` | loss curve: linear / log y axis (automatic until pressed: log when the loss spans over 1.5 decades) |
| `L` | next recurrent layer: a stack's next layer, an encoder-decoder's decoder (the status line names it) |
| `ctrl+s` | save the screen as an SVG file (in the folder the app was started from; the path is shown) |
| `ctrl+p` | command palette |
| `?` | this help;  `q` quit |

# Reading the views

* **Train**: loss and metric per batch (training: the faint band is the raw per-batch values, the
  line through it their moving average, smoothed like TensorBoard's with weight 0.9) and per epoch
  (validation, ▲); the dashed line is the task's baseline (what a model that learnt nothing scores).
  Where a column holds many batches it spans their lowest to highest value. The loss axis turns
  logarithmic by itself once the loss spans more than 1.5 decades; `l` switches it by hand.
  Beside it, **||dL/dh_t||**: how much gradient reaches timestep *t* from the loss, on a log scale.
* **Gates**: heatmaps, units down and timesteps across, of each gate, the candidate, the cell state
  and the hidden state for one probe sample. Sigmoid gates (i, f, o, z, r) use the sequential
  scale 0 (purple) → 1 (yellow); tanh-range values use the diverging scale −1 (blue) → 0 (grey) →
  +1 (red). Each character holds two units (upper and lower half). Below: the selected step's input,
  every value of the selected unit, and the cell's equations with those numbers.
* **Compare**: the gradient norm by timestep for the three cells. On the adding problem with 100
  steps, SimpleRNN's curve falls by many orders of magnitude towards t=0: the vanishing gradient.
  LSTM's stays within a few.
* Under every time axis: the task's marks. ▲ the adding problem's two marked steps (the copy task's
  delimiter), ━ the copy task's write and recall windows, ░ padding; padded (masked) steps are greyed
  in the heatmaps, where the state is carried over unchanged.
* **Gain**: g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||, the factor one step back multiplies the gradient by,
  on a log axis with the line g = 1; the sentence under it multiplies all the steps. LSTM: the cell
  path ||dL/dc_{t-1}|| / ||dL/dc_t|| beside the forget gate (mean and largest unit's). SimpleRNN: its
  two factors, tanh'(a_t) and U.
* **Inputs**: ||dy/dx_t||, how much the output depends on each input step (bars on a log scale),
  above the markers; for text, the words down the page with the memory gate's units and a bar each.
* **Saturation**: one dot per unit and gate: the fraction of steps below 0.1 (across) and above 0.9
  (up), and the mean fractions epoch by epoch.
* **What-if**: the probe samples through the model as trained and through a copy with one weight
  changed; nothing is retrained, the saved model is never touched.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss(None)
