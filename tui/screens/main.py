"""The main screen: tabs Train, Gates, Compare, Setup and the "why" tabs (tui/screens/why.py); training
runs in a worker thread (tui/screens/worker.py).

The worker iterates a headless `TrainingSession` and appends its events to a buffer; it posts one
`ProgressAvailable` message when the buffer goes from empty to non-empty (messages coalesce), and
the UI thread drains the whole buffer at once. So a fast training loop never floods the UI, and
nothing heavy runs in the UI thread: drawing works on arrays the worker already computed.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane, Tabs

from rnnsim.errors import InputError
from rnnsim.render.equations import quantities
from rnnsim.render.lineplot import mean_gradient_norm
from tui.messages import ProgressAvailable, SessionReady, TrainingFinished, WorkerFailed
from tui.screens.why import WhyTabs
from tui.screens.worker import TrainingWorker
from tui.session import (
    CELL_ORDER,
    CELLS,
    BatchEvent,
    EpochEvent,
    ProbeEvent,
    Settings,
    TrainingSession,
    load_checkpoint,
)
from tui.widgets.curves import CurvesView
from tui.widgets.gates import GatesView
from tui.widgets.gradient import GradientView
from tui.widgets.inspector import StepInspector
from tui.widgets.notes import NoteView
from tui.widgets.setup_form import SetupForm
from tui.widgets.status import StatusLine

TABS = ("train", "gates", "compare", "setup", "gain", "inputs", "saturation", "whatif")
COMPARE_TITLES = {"cells": "||dL/dh_t||: SimpleRNN vs LSTM vs GRU (log)",
                  "forget_bias": "||dL/dh_t||: the same LSTM from forget bias b_f = 0 and b_f = 1 (log)"}


class MainScreen(WhyTabs, TrainingWorker, Screen):
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("p", "pause", "Pause"),
        Binding("x", "stop", "Stop"),
        Binding("c", "compare", "Compare"),
        Binding("f", "compare('forget_bias')", "b_f 0 vs 1", show=False),
        Binding("e", "what_if(1)", "What if"),
        Binding("E", "what_if(-1)", "What if back", show=False),
        Binding("i", "toggle_notes", "Notes"),
        Binding("n", "next_cell", "Cell"),
        Binding("o", "open", "Open"),
        Binding("l", "toggle_log", "Log y"),
        Binding("L", "next_layer", "Layer"),
        Binding("question_mark", "help", "Help"),
        Binding("left", "move_time(-1)", "t-1", show=False),
        Binding("right", "move_time(1)", "t+1", show=False),
        Binding("shift+left", "move_time(-10)", "t-10", show=False),
        Binding("shift+right", "move_time(10)", "t+10", show=False),
        Binding("up", "move_unit(-1)", "unit-1", show=False),
        Binding("down", "move_unit(1)", "unit+1", show=False),
        Binding("g", "move_gate(1)", "Gate", show=False),
        Binding("G", "move_gate(-1)", "Gate back", show=False),
        Binding("left_square_bracket", "move_sample(-1)", "Sample-1", show=False),
        Binding("right_square_bracket", "move_sample(1)", "Sample+1", show=False),
        Binding("1", "tab('train')", "Train", show=False),
        Binding("2", "tab('gates')", "Gates", show=False),
        Binding("3", "tab('compare')", "Compare", show=False),
        Binding("4", "tab('setup')", "Setup", show=False),
        Binding("5", "tab('gain')", "Gain", show=False),
        Binding("6", "tab('inputs')", "Inputs", show=False),
        Binding("7", "tab('saturation')", "Saturation", show=False),
        Binding("8", "tab('whatif')", "What-if", show=False),
    ]

    def __init__(self, settings: Settings, session_factory=TrainingSession, checkpoint: str | None = None):
        super().__init__()
        self.settings = settings
        self.session_factory = session_factory
        self.checkpoint = checkpoint
        # What the views show.
        self.traces = []
        self.tokens: list[list[str]] | None = None
        self.tokens_by_layer: dict = {}  # model layer name -> tokens, where layers read different inputs
        self.layer_index = 0  # which recurrent layer's trace the Gates tab and the gradient plot show (L)
        self.sample = self.t = self.unit = self.selected = 0
        self.step = 0
        self.epoch = 0
        self.last_loss = float("nan")
        self.state = "idle"  # idle | preparing | training | paused | stopped | finished | comparing
        self.compare_curves: dict[str, np.ndarray] = {}
        self.compare_traces: dict[str, tuple] = {}  # cell -> (traces, tokens) of its last compare probe
        self.compare_steps: dict[str, tuple] = {}  # cell -> (optimizer steps, probe loss) of its last probe
        self.compare_kind = "cells"  # 'cells' (SimpleRNN, LSTM, GRU) or 'forget_bias' (an LSTM from 0 and 1)
        self.init_why()
        # Shared with the worker thread.
        self._buffer: list = []
        self._buffer_lock = threading.Lock()
        self._resume = threading.Event()
        self._resume.set()
        self._stop = threading.Event()
        self._run_id = 0  # bumped by every start; a worker's messages carry the id of its run

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with TabbedContent(initial="train", id="tabs"):
            with TabPane("1 Train", id="train"):
                with Grid(id="train-grid"):
                    with Vertical(id="curves"):
                        yield CurvesView("loss", log_option=True, id="loss-curve")
                        yield CurvesView("metric", id="metric-curve")
                    yield GradientView(
                        "||dL/dh_t|| by timestep (log)", "Gradients appear at the first probe.", id="gradient"
                    )
                yield NoteView("train", id="note-train")
            with TabPane("2 Gates", id="gates"):
                with Grid(id="gates-grid"):
                    yield GatesView(id="gates-view")
                    yield StepInspector(id="inspector")
                yield NoteView("gates", id="note-gates")
            with TabPane("3 Compare", id="compare"):
                yield GradientView(
                    COMPARE_TITLES["cells"],
                    "Press c to train the three cells briefly on this task and seed, and overlay their"
                    " gradients; f trains an LSTM from forget bias 0 and from 1.",
                    id="compare-view",
                )
                yield NoteView("compare", id="note-compare")
            with TabPane("4 Setup", id="setup"):
                yield SetupForm(self.settings, id="setup-form")
            yield from self.compose_why_tabs()
        yield Footer()

    def on_mount(self) -> None:
        # Arrow keys belong to the views; tabs are switched with 1-4 or the mouse.
        self.query_one(Tabs).can_focus = False
        self.update_layout_class()
        self.update_status()
        self.reset_curves()
        if self.checkpoint:
            self.load_checkpoint_worker(self.checkpoint)

    def on_resize(self) -> None:
        self.update_layout_class()

    def update_layout_class(self) -> None:
        wide = self.size.width >= 120
        self.set_class(wide, "-wide")
        # The inspector beside the heatmaps only where a 100-step time axis still fits next to it.
        self.set_class(self.size.width >= 170, "-xwide")
        self.set_class(self.size.height >= 40, "-tall")
        # Below 120 columns the footer's keys fit only in the compact style and without the command
        # palette's hint on the right, which was drawn over the last keys ("^p paletter" at 80 columns);
        # ctrl+p still opens the palette.
        footer = self.query_one(Footer)
        footer.compact = not wide
        footer.show_command_palette = wide

    # -- status -------------------------------------------------------------------------------
    def update_status(self) -> None:
        s = self.settings
        text = (
            f"{CELLS.get(s.cell, s.cell)} · {s.task} · {s.units}u · T={s.seq_len} · lr {s.learning_rate:g}"
            f" · seed {s.seed} │ {self.state}"
        )
        if self.step:
            text += f" · ep {self.epoch + 1} · step {self.step} · loss {self.last_loss:.3g}"
        elif self.state in ("preparing", "training", "comparing"):
            text += " · first batch… (a first run compiles the kernels, ~10 s once)"
        if len(self.traces) > 1 and self.trace is not None:
            text += f" · layer {self.trace.layer_name} ({self.layer_index + 1}/{len(self.traces)}, L)"
        if self.checkpoint and self.state == "checkpoint":
            text = f"checkpoint {self.checkpoint} │ " + text
        self.query_one(StatusLine).update(text)

    def reset_curves(self, info=None) -> None:
        loss_name = getattr(info, "loss", "loss") if info else "loss"
        metric_names = list(getattr(info, "metrics", []) or []) if info else []
        baseline = getattr(info, "baseline", None) if info else None
        metric_name = metric_names[0] if metric_names else None
        loss_base = metric_base = None
        if baseline:
            pair = (str(baseline.get("name", "baseline")), float(baseline["value"]))
            if baseline.get("metric") in (None, "loss", loss_name) or metric_name is None:
                loss_base = pair
            if metric_name and baseline.get("metric") == metric_name:
                metric_base, loss_base = pair, None
        self.metric_name = metric_name
        self.query_one("#loss-curve", CurvesView).reset(f"loss ({loss_name})", loss_base)
        self.query_one("#metric-curve", CurvesView).reset(
            metric_name or "metric: none for this task", metric_base
        )
        self.query_one("#metric-curve").display = metric_name is not None

    # -- actions ------------------------------------------------------------------------------
    def action_start(self) -> None:
        if self.state == "paused":
            self.action_pause()
            return
        if self.state in ("training", "preparing", "comparing"):
            self.notify("Training is already running: p pauses, x stops.")
            return
        try:
            self.settings = self.query_one(SetupForm).read()
        except InputError as error:
            self.notify(str(error), severity="error", title="Setup")
            return
        self.start_training(compare=False)

    def action_compare(self, kind: str = "cells") -> None:
        """c: SimpleRNN, LSTM and GRU side by side; f (kind 'forget_bias'): one LSTM from b_f = 0 and 1."""
        if self.state in ("training", "preparing", "comparing", "paused"):
            self.action_stop()
        try:
            self.settings = self.query_one(SetupForm).read()
        except InputError as error:
            self.notify(str(error), severity="error", title="Setup")
            return
        self.compare_curves = {}
        self.compare_traces = {}
        self.compare_steps = {}
        self.compare_kind = kind
        view = self.query_one("#compare-view", GradientView)
        view.title = COMPARE_TITLES[kind]
        view.set_series({}, note="training…")
        self.action_tab("compare")
        self.start_training(compare=True)

    def start_training(self, compare: bool) -> None:
        self._run_id += 1
        self._stop.clear()
        self._resume.set()
        with self._buffer_lock:
            self._buffer.clear()
        self.step = self.epoch = 0
        self.saturation_history = []
        self.whatif_step, self.whatif_result = 0, None
        self.state = "comparing" if compare else "preparing"
        self.checkpoint = None if not compare else self.checkpoint
        self.update_status()
        self.train_worker(self.settings, compare, self._run_id)

    def action_pause(self) -> None:
        if self.state == "training":
            self._resume.clear()
            self.state = "paused"
        elif self.state == "paused":
            self._resume.set()
            self.state = "training"
        else:
            self.notify("Nothing to pause: press s to start training.")
        self.update_status()

    def action_stop(self) -> None:
        if self.state in ("training", "paused", "preparing", "comparing"):
            self._stop.set()
            self._resume.set()
            self.workers.cancel_group(self, "train")
            self.state = "stopped"
            self.update_status()

    def action_next_cell(self) -> None:
        index = (CELL_ORDER.index(self.settings.cell) + 1) % len(CELL_ORDER)
        self.set_cell(CELL_ORDER[index])

    def set_cell(self, cell: str) -> None:
        self.settings.cell = cell
        self.query_one(SetupForm).write_cell(cell)
        self.update_status()
        self.notify(f"Cell: {CELLS[cell]}. Press s to train it.")

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "gates":
            self.query_one(GatesView).focus()
        elif tab == "setup":
            self.query_one("#cell").focus()
        else:
            self.set_focus(None)

    def action_toggle_log(self) -> None:
        """The loss curve's y axis: linear <-> log (it starts automatic, log when the loss spans decades)."""
        self.query_one("#loss-curve", CurvesView).toggle_log()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_open(self) -> None:
        from tui.screens.open_checkpoint import OpenCheckpointScreen

        def opened(path: str | None) -> None:
            if path:
                self.load_checkpoint_worker(path)

        self.app.push_screen(OpenCheckpointScreen(), opened)

    # -- moving through time -------------------------------------------------------------------
    @property
    def trace(self):
        return self.traces[min(self.layer_index, len(self.traces) - 1)] if self.traces else None

    def action_next_layer(self) -> None:
        """Show the next recurrent layer (a model with several: a stack, an encoder and a decoder)."""
        if len(self.traces) > 1:
            self.layer_index = (self.layer_index + 1) % len(self.traces)
            self.refresh_gates()
            self.refresh_gradient()
            self.update_status()
            self.notify(f"layer {self.trace.layer_name} ({self.layer_index + 1} of {len(self.traces)})")
        else:
            self.notify("this model has one recurrent layer")

    def _tokens_of_trace(self):
        """The decoded inputs under the shown layer's timesteps, per sample."""
        trace = self.trace
        name = trace.layer_name.split("/")[0] if trace is not None else None
        return self.tokens_by_layer.get(name, self.tokens)

    def action_move_time(self, delta: int) -> None:
        if self.trace is not None:
            self.t = int(np.clip(self.t + delta, 0, self.trace.timesteps - 1))
            self.refresh_gates()

    def action_move_unit(self, delta: int) -> None:
        if self.trace is not None:
            self.unit = int(np.clip(self.unit + delta, 0, self.trace.units - 1))
            self.refresh_gates()

    def action_move_gate(self, delta: int) -> None:
        if self.trace is not None:
            self.selected = (self.selected + delta) % len(quantities(self.trace))
            self.refresh_gates()

    def action_move_sample(self, delta: int) -> None:
        if self.trace is not None:
            self.sample = int(np.clip(self.sample + delta, 0, self.trace.batch_size - 1))
            self.refresh_gates()
            self.refresh_gradient()

    def refresh_gates(self) -> None:
        trace = self.trace
        gates = self.query_one(GatesView)
        if trace is None:
            gates.set_trace(None)
            return
        self.t = min(self.t, trace.timesteps - 1)
        self.unit = min(self.unit, trace.units - 1)
        self.sample = min(self.sample, trace.batch_size - 1)
        self.selected = min(self.selected, len(quantities(trace)) - 1)
        gates.trace = trace
        gates.set_cursor(self.t, self.unit, self.selected, self.sample)
        layer_tokens = self._tokens_of_trace()
        tokens = layer_tokens[self.sample] if layer_tokens and self.sample < len(layer_tokens) else None
        annotations = self.sample_annotations()
        gates.set_annotations(annotations)
        self.query_one(StepInspector).show(trace, tokens, self.sample, self.t, self.unit, annotations)
        self.query_one("#gradient", GradientView).set_cursor(self.t)
        self.refresh_why()

    def refresh_gradient(self) -> None:
        trace = self.trace
        if trace is None or trace.grad_hidden_norm is None:
            return
        norms = mean_gradient_norm(trace)
        name = f"{CELLS.get(trace.cell, trace.cell)} (mean of {trace.batch_size} samples)"
        self.query_one("#gradient", GradientView).set_series(
            {name: norms}, note=f"step {self.step}" if self.step else ""
        )

    @work(thread=True, exclusive=True, group="train")
    def load_checkpoint_worker(self, path: str) -> None:
        try:
            result = load_checkpoint(path, self.settings.task, self.settings.seq_len)
        except InputError as error:
            self.post_message(WorkerFailed(str(error)))
            return
        except Exception as error:  # an internal bug: one line, never a traceback on screen
            self.post_message(WorkerFailed(f"could not open {path}: {type(error).__name__}: {error}"))
            return
        self.app.call_from_thread(self.show_checkpoint, path, result)

    def show_checkpoint(self, path: str, result) -> None:
        self.checkpoint = path
        # Adopt what the checkpoint fixes (cell, task, size); keep the user's training options.
        opened = result.settings
        self.settings = replace(
            self.settings, cell=opened.cell, task=opened.task, units=opened.units, seq_len=opened.seq_len
        )
        self.query_one(SetupForm).write(self.settings)
        self.state = "checkpoint"
        self.traces, self.tokens = result.traces, result.tokens
        self.annotations, self.connectivity, self.source = result.annotations, result.connectivity, result.source
        self.saturation_history, self.whatif_step, self.whatif_result = list(result.saturation_history), 0, None
        self.tokens_by_layer, self.layer_index = dict(result.tokens_by_layer), 0
        self.reset_curves(result.info)
        self.refresh_gradient()
        self.refresh_gates()
        self.update_status()
        self.action_tab("gates")
        layers = (f" Recurrent layers {', '.join(trace.layer_name for trace in self.traces)}: L switches."
                  if len(self.traces) > 1 else "")
        self.notify(f"Opened {path}: {len(self.traces[0].hidden)} samples of {result.settings.task}.{layers}")

    # -- messages from the worker -------------------------------------------------------------
    def on_session_ready(self, message: SessionReady) -> None:
        if message.run_id != self._run_id:
            return
        if not message.compare:
            self.state = "training"
            self.reset_curves(message.info)
        else:
            label = CELLS.get(message.cell, message.cell)
            self.query_one("#compare-view", GradientView).note = f"training {label}…"
        self.update_status()

    def on_progress_available(self, message: ProgressAvailable) -> None:
        with self._buffer_lock:
            events, self._buffer = self._buffer, []
        if not events:
            return
        loss_view = self.query_one("#loss-curve", CurvesView)
        metric_view = self.query_one("#metric-curve", CurvesView)
        comparing = self.state == "comparing"
        last_probe = None
        for event in events:
            if isinstance(event, BatchEvent):
                self.step += 1
                self.epoch = event.epoch
                self.last_loss = event.loss
                if not comparing:
                    loss_view.add_train(event.loss)
                    if self.metric_name and self.metric_name in event.metrics:
                        metric_view.add_train(event.metrics[self.metric_name])
            elif isinstance(event, EpochEvent) and not comparing:
                self.epoch = event.epoch
                self.saturation_history += event.saturation
                if event.val_loss is not None:
                    loss_view.add_val(event.val_loss)
                if self.metric_name and self.metric_name in event.val_metrics:
                    metric_view.add_val(event.val_metrics[self.metric_name])
            elif isinstance(event, ProbeEvent):
                if comparing:
                    self.compare_traces[event.cell] = (event.traces, event.tokens)
                    self.compare_steps[event.cell] = (event.step, event.loss)
                    if event.traces and event.traces[0].grad_hidden_norm is not None:
                        self.compare_curves[CELLS.get(event.cell, event.cell)] = mean_gradient_norm(
                            event.traces[0]
                        )
                    if event.cell != self.settings.cell:
                        continue  # the Gates tab follows the chosen cell only
                last_probe = event
        loss_view.changed()
        metric_view.changed()
        if comparing and self.compare_steps:
            self.refresh_compare()
        if last_probe is not None:
            self.traces, self.tokens = last_probe.traces, last_probe.tokens
            self.annotations = last_probe.annotations
            self.connectivity, self.source = last_probe.connectivity, last_probe.source
            self.what_if_follows_probe()
            self.tokens_by_layer = dict(last_probe.tokens_by_layer)
            self.refresh_gradient()
            self.refresh_gates()
            if comparing:
                self.refresh_compare()
        self.update_status()

    def refresh_compare(self) -> None:
        """The overlay of the three cells' ||dL/dh_t||, with each one's progress and loss."""
        progress = "  ".join(
            f"{CELLS.get(cell, cell)}: batch {step}, loss {loss:.3f}"
            for cell, (step, loss) in self.compare_steps.items()
        )
        self.query_one("#compare-view", GradientView).set_series(dict(self.compare_curves), note=progress)

    def on_training_finished(self, message: TrainingFinished) -> None:
        if message.run_id != self._run_id:
            return
        self.on_progress_available(ProgressAvailable())
        if self.state != "stopped":
            self.state = "finished" if not message.compare else "compared"
        self.update_status()
        if message.compare and self.settings.cell in self.compare_traces:
            # The Gates tab shows the chosen cell, not whichever the compare run trained last.
            self.traces, self.tokens = self.compare_traces[self.settings.cell]
            self.tokens_by_layer = {}
            self.refresh_gates()
            self.refresh_gradient()
        if message.compare and message.reason == "finished":
            self.notify("Compare done: see the Compare tab (3).")

    def on_worker_failed(self, message: WorkerFailed) -> None:
        from tui.screens.message import MessageScreen

        self.state = "idle"
        self.update_status()
        self.app.push_screen(MessageScreen("Could not do that", message.text))
