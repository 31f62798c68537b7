"""App commands for Textual's command palette (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

COMMANDS = [
    ("Start training", "start", "Train the model set up in the Setup tab (or resume)"),
    ("Pause / resume training", "pause", "Pause the training worker, or let it go on"),
    ("Stop training", "stop", "Stop the training worker"),
    ("Compare SimpleRNN, LSTM and GRU", "compare", "Train all three briefly and overlay their gradients"),
    ("Compare forget bias 0 vs 1", "compare('forget_bias')", "Train the same LSTM from b_f = 0 and from b_f = 1"),
    ("What if: next edit", "what_if(1)", "Change the cell's knob on a copy and recompute gates and gradients"),
    ("What if: previous edit", "what_if(-1)", "Step back through the edits (the model as trained is one)"),
    ("Notes: show / hide", "toggle_notes", "What each view shows, what to look for, what it means"),
    ("Cell: SimpleRNN", "set_cell('simple_rnn')", "Use a SimpleRNN cell"),
    ("Cell: LSTM", "set_cell('lstm')", "Use an LSTM cell"),
    ("Cell: GRU", "set_cell('gru')", "Use a GRU cell"),
    ("Open checkpoint", "open", "Inspect a model saved by rnnsim train / model.save"),
    ("Show tab: Train", "tab('train')", "Loss, metric and gradient curves"),
    ("Show tab: Gates", "tab('gates')", "Gate heatmaps and equations"),
    ("Show tab: Compare", "tab('compare')", "Gradient by timestep for the three cells"),
    ("Show tab: Setup", "tab('setup')", "Cell, task, units, sequence length, learning rate, seed"),
    ("Show tab: Gain", "tab('gain')", "The per-step gradient gain and its product"),
    ("Show tab: Inputs", "tab('inputs')", "Input connectivity ||dy/dx_t|| under the task's markers, text read down"),
    ("Show tab: Saturation", "tab('saturation')", "How often each gate is shut or open, unit by unit and by epoch"),
    ("Show tab: What-if", "tab('whatif')", "The model as trained beside an edited copy"),
    ("Loss curve: linear / log y axis", "toggle_log", "Switch the loss plot's y axis (automatic until chosen)"),
    ("Next recurrent layer", "next_layer", "Show the gates and gradient of the model's next recurrent layer"),
    ("Help", "help", "Keys and how to read the views"),
]


class RnnsimCommands(Provider):
    """Every app action, searchable by name."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.run, action), help=help_text)

    async def discover(self) -> Hits:
        for name, action, help_text in COMMANDS:
            yield Hit(1.0, name, partial(self.run, action), help=help_text)

    async def run(self, action: str) -> None:
        from tui.screens.main import MainScreen

        screen = self.app.get_screen("main") if self.app.is_screen_installed("main") else self.screen
        if action.startswith("set_cell("):
            cell = action[len("set_cell('") : -2]
            if isinstance(screen, MainScreen):
                screen.set_cell(cell)
            return
        await screen.run_action(action)
