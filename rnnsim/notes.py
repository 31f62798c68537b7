"""What to look at in each view, in a learner's words: the one place these notes live.

The app shows a view's note under it when `i` is pressed, `rnnsim inspect --notes` prints the notes
of the views it draws, and the README's walk-through follows the same words. Each note says what the
axes are, what to look for, and what it means; some add a sentence for one cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Note:
    """A view's explanation in three parts, and optional per-cell sentences."""

    title: str
    axes: str  # what is drawn where
    look_for: str  # what to find in it
    meaning: str  # why it matters
    by_cell: dict[str, str] = field(default_factory=dict)  # cell key -> one more sentence

    def text(self, cell: str | None = None) -> str:
        """The note as three short paragraphs (plus the cell's sentence, when there is one)."""
        stop = "" if self.title.endswith(("?", "!", ".")) else "."
        parts = [f"{self.title}{stop} {self.axes}", f"Look for: {self.look_for}", f"Why: {self.meaning}"]
        if cell and cell in self.by_cell:
            parts.append(self.by_cell[cell])
        return "\n".join(parts)


NOTES = {
    "gates": Note(
        title="Gates",
        axes="Each heatmap is one gate or state: units down, timesteps across; two units per text row.",
        look_for="columns that change colour at the marked steps (▲ under the axis): the gates that open "
                 "or shut when something worth keeping arrives.",
        meaning="a gate is a switch the cell learned; where it flips tells you what the cell reacts to. "
                "Greyed columns are padding: the state is carried over unchanged across them.",
        by_cell={
            "lstm": "The forget gate f (0 purple = forget, 1 yellow = keep) decides how long c remembers.",
            "gru": "The update gate z near 1 (yellow) keeps h_{t-1}: that unit is holding on to something.",
            "simple_rnn": "A SimpleRNN has no gate: every step rewrites h through tanh(x W + h U + b).",
        },
    ),
    "gradient": Note(
        title="||dL/dh_t|| by timestep",
        axes="How much gradient from the loss reaches the hidden state at step t, on a log axis.",
        look_for="how far the curve falls from the last step (right) to the first (left).",
        meaning="a step whose gradient is 1e-10 of the last step's cannot be learned from: the vanishing "
                "gradient, drawn.",
    ),
    "gain": Note(
        title="Per-step gain",
        axes="g_t = ||dL/dh_{t-1}|| / ||dL/dh_t||: the factor one step back multiplies the gradient by, "
             "on a log axis; the dashed line is g = 1.",
        look_for="the curve below the dashed line: every step there shrinks the gradient. The sentence under "
                 "the plot multiplies all the steps together.",
        meaning="the vanishing gradient is a product: 0.8 per step is 0.8^99 = 2.5e-10 over 100 steps, "
                "0.97 per step is 0.05. A gain close to 1 is what memory looks like from the gradient's side.",
        by_cell={
            "lstm": "Cell path: along c the gradient is multiplied by the forget gate f_t, not squashed by "
                    "tanh' and U. Where the cell gain follows f and f stays near 1, the gradient survives.",
            "simple_rnn": "Its Jacobian has two factors: tanh'(a_t) (at most 1, small where units saturate) "
                          "and U. The plot shows which one shrinks the gradient at each step.",
            "gru": "z_t near 1 passes dL/dh_t back to h_{t-1} unchanged: the GRU's own conveyor belt.",
        },
    ),
    "connectivity": Note(
        title="Input connectivity",
        axes="||dy/dx_t||: how much the model's output moves when input step t moves, one cell per step "
             "under the time axis (darker = more), and the same on a log plot.",
        look_for="peaks at the steps the task says matter: the adding problem's two markers ▲, the words "
                 "that carry a review's verdict.",
        meaning="this is what the model actually uses. A trained LSTM's two peaks sit on the markers; a "
                "SimpleRNN's first peak is missing, because no gradient came back that far to teach it.",
    ),
    "text": Note(
        title="Reading text downwards",
        axes="One line per word, time running down; the chosen gate's units as coloured cells beside "
             "it, and the connectivity ||dy/dx_t|| of the word as a bar on the right.",
        look_for="words where many units change colour at once, and the words with the longest bars.",
        meaning="the bar says which words the prediction depends on; the cells say how the gate reacted "
                "to each word. Padding words (<pad>) should do nothing.",
    ),
    "saturation": Note(
        title="Gate saturation",
        axes="One dot per unit: across, the fraction of steps its gate is below 0.1 (shut); up, the "
             "fraction above 0.9 (open). Karpathy, Johnson and Fei-Fei (2015).",
        look_for="forget-gate dots near the top-left corner (almost always open: long memory), dots on "
                 "the diagonal edge (a switch, always decided), dots near the origin (never decided).",
        meaning="training pushes gates to decide. The per-epoch line shows the fractions growing as the "
                "model learns which units should remember.",
    ),
    "what_if": Note(
        title="What if?",
        axes="The probe samples through the model as trained (left, ●) and through a copy with one "
             "weight changed (right, ▲): the edited gate, the per-step gain and ||dL/dh_t||.",
        look_for="how the gain curve moves when the knob moves: a forget bias of 0 pulls f to about 0.5 "
                 "and the gradient vanishes again; 2 keeps it longer.",
        meaning="nothing is retrained and the saved model is not touched: you are asking what that one "
                "number does. Jozefowicz et al. (2015) found a forget bias of 1 much better than 0.",
        by_cell={
            "simple_rnn": "Scaling U scales every singular value, and every step's gain with it: below 1 the "
                          "gradient vanishes faster, far above 1 it explodes.",
            "gru": "A large update-gate bias holds z near 1: the state (and the gradient) passes through.",
        },
    ),
    "compare": Note(
        title="Compare",
        axes="||dL/dh_t|| of several models trained side by side on the same data and seed, log axis.",
        look_for="which curve stays flat as training goes on, and which falls away to the left.",
        meaning="the gated cells learn to keep their gradient; the SimpleRNN cannot. The forget-bias "
                "variant (f) trains the same LSTM with b_f = 0 and b_f = 1.",
    ),
    "train": Note(
        title="Train",
        axes="Loss per batch (faint band) and its moving average; validation per epoch (▲); the dashed "
             "line is the baseline a model that learned nothing scores.",
        look_for="the moment the loss leaves the baseline: the model has found the task.",
        meaning="on the adding problem a gated cell sits at the baseline for hundreds of batches, then "
                "drops at once, when its gates learn to keep the marked values.",
    ),
}


def note(view: str) -> Note:
    """The note of a view by name (gates, gradient, gain, connectivity, text, saturation, what_if, compare, train)."""
    return NOTES[view]
