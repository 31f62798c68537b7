"""The main screen's "why" tabs: Gain, Inputs, Saturation, What-if, and the learner's notes on every tab.

A mixin of `MainScreen` (kept apart so that each file stays short): it composes the four tabs, fills
them from what the last probe brought (traces, annotations, connectivity, the weights of that moment),
runs what-ifs in a worker thread, and shows or hides the notes (`i`).
"""

from __future__ import annotations

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.widgets import TabPane

from rnnsim.analysis.whatif import EDIT_FOR_CELL, EDIT_VALUES, Edit, recurrent_weights
from rnnsim.errors import InputError
from tui.widgets.connectivity import InputsView
from tui.widgets.gain import GainView
from tui.widgets.notes import NoteView
from tui.widgets.saturation import SaturationView
from tui.widgets.whatif import WhatIfView


class WhyTabs:
    """The four "why" tabs and the notes, for a screen with `traces`, `sample`, `t` and `settings`."""

    def init_why(self) -> None:
        self.annotations = None  # per probe sample: rnnsim.annotations.StepAnnotations
        self.connectivity: np.ndarray | None = None  # (S, T) ||dy/dx_t|| of the probe samples
        self.source = None  # tui.session.ProbeSource of the last probe: what a what-if starts from
        self.saturation_history: list[dict] = []
        self.whatif_step = 0  # 0: the model as trained; k: the k-th value of the cell's edit
        self.whatif_result = None
        self.notes_shown = False
        self._kernel_of = (None, None, None)  # (trace, source, its SimpleRNN U): looked up once per probe

    def compose_why_tabs(self) -> ComposeResult:
        with TabPane("5 Gain", id="gain"):
            yield GainView(id="gain-view")
            yield NoteView("gain", id="note-gain")
        with TabPane("6 Inputs", id="inputs"):
            yield InputsView(id="inputs-view")
            yield NoteView("connectivity", id="note-inputs")
        with TabPane("7 Saturation", id="saturation"):
            yield SaturationView(id="saturation-view")
            yield NoteView("saturation", id="note-saturation")
        with TabPane("8 What-if", id="whatif"):
            yield WhatIfView(id="whatif-view")
            yield NoteView("what_if", id="note-whatif")

    # -- filling the tabs ----------------------------------------------------------------------
    def sample_annotations(self):
        """The shown sample's annotations; they belong to the first recurrent layer's input (another layer of a
        functional model may read another input)."""
        if self.annotations is None or self.sample >= len(self.annotations) or self.layer_index:
            return None
        annotations = self.annotations[self.sample]
        trace = self.trace
        if trace is not None and trace.mask is not None:
            annotations = annotations.with_mask(trace.mask[self.sample])
        return annotations

    def recurrent_kernel(self):
        """The SimpleRNN's U of the traced layer, from the probe's weights (for the gain view), or None.

        Looked up once per trace and source, not at every cursor key: for a checkpoint (no snapshot) the
        lookup copies the model's weights, and the gain view computes its profile again for a new U."""
        trace, source = self.trace, self.source
        if self._kernel_of[0] is trace and self._kernel_of[1] is source:
            return self._kernel_of[2]
        kernel = None
        if trace is not None and trace.cell == "simple_rnn" and getattr(source, "model", None) is not None:
            layers = recurrent_weights(source.model, source.weights)
            kernel = layers.get(trace.layer_name, {}).get("recurrent_kernel")
        self._kernel_of = (trace, source, kernel)
        return kernel

    def refresh_why(self) -> None:
        trace = self.trace
        self.query_one(GainView).show(trace, cursor=self.t if trace is not None else None,
                                      recurrent_kernel=self.recurrent_kernel())
        first_layer = not self.layer_index  # connectivity and marks belong to the first recurrent layer's input
        self.query_one(InputsView).show(trace, self.sample, self.t, self.annotations if first_layer else None,
                                        self.connectivity if first_layer else None)
        self.query_one(SaturationView).show(trace, self.saturation_history)
        self.query_one(WhatIfView).show(self.whatif_result, self.sample,
                                        "" if self.whatif_result is not None else self.whatif_status())
        for note in self.query(NoteView):
            note.set_cell(trace.cell if trace is not None else self.settings.cell)

    def whatif_status(self) -> str:
        if self.source is None:
            return "(it needs a probe: start training, or open a checkpoint)"
        return ""

    # -- what-ifs ------------------------------------------------------------------------------
    def current_edit(self) -> Edit | None:
        trace = self.trace
        if trace is None or self.whatif_step == 0 or trace.cell not in EDIT_FOR_CELL:
            return None
        kind = EDIT_FOR_CELL[trace.cell]
        values = EDIT_VALUES[kind]
        return Edit(kind, values[(self.whatif_step - 1) % len(values)])

    def action_what_if(self, delta: int) -> None:
        """Step through the cell's edit values (the model as trained is one of them) and recompute."""
        trace = self.trace
        if trace is None or self.source is None:
            self.notify("A what-if needs a probe first: start training (s) or open a checkpoint (o).")
            return
        kind = EDIT_FOR_CELL.get(trace.cell)
        if kind is None:
            return
        self.whatif_step = (self.whatif_step + delta) % (len(EDIT_VALUES[kind]) + 1)
        self.query_one("#tabs").active = "whatif"
        self.update_what_if()

    def update_what_if(self) -> None:
        edit = self.current_edit()
        view = self.query_one(WhatIfView)
        if edit is None:
            self.whatif_result = None
            view.show(None, self.sample, "showing the model as trained: press e for an edit")
            return
        view.show(self.whatif_result, self.sample, "computing…")
        self.what_if_worker(self.source, edit)

    @work(thread=True, exclusive=True, group="whatif")
    def what_if_worker(self, source, edit: Edit) -> None:
        try:
            result = source.what_if(edit)
        except InputError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", title="What if")
            return
        except Exception as error:  # an internal bug: one line, and the app stays open (as train_worker)
            self.app.call_from_thread(self.notify, f"internal error in the what-if: {type(error).__name__}: {error}",
                                      severity="error", title="What if")
            return
        self.app.call_from_thread(self.show_what_if, result, edit)

    def show_what_if(self, result, edit: Edit) -> None:
        if edit != self.current_edit():  # the user moved on while it was computed
            return
        self.whatif_result = result
        self.query_one(WhatIfView).show(result, self.sample)

    def what_if_follows_probe(self) -> None:
        """A new probe: recompute the active edit on the new weights (only while its tab is shown)."""
        if self.current_edit() is not None and self.query_one("#tabs").active == "whatif":
            self.update_what_if()

    # -- notes -----------------------------------------------------------------------------------
    def action_toggle_notes(self) -> None:
        self.notes_shown = not self.notes_shown
        for note in self.query(NoteView):
            note.set_class(self.notes_shown, "-shown")
