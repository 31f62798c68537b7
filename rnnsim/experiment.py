"""One training run, described by a `RunConfig`: build the model for a task, train it, save it.

`rnnsim train` is a thin command line over this module; the terminal app and the benchmarks
can use it too. A run's folder (`--out`, see rnnsim.runs) holds:

    model.npz      the model, weights and optimizer state (rnnsim.models.load_model reads it)
    history.json   per-epoch loss and metrics, Keras's keys; "saturation": each epoch's gate saturation
    config.json    this RunConfig, so that `--resume` and `rnnsim inspect` know the task

written together as one snapshot (rnnsim.runs.write_snapshot). `resume_config` is how `--resume`
treats the flags a user typed: the saved run is continued unchanged, so a flag that disagrees with it
is an error naming both values, and the model file is the truth about the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from rnnsim.errors import InputError
from rnnsim.registry import ALIASES, LAYER_NAMES, layer_name, resolve_cell, short_name
from rnnsim.runs import write_snapshot

# Every accepted spelling of a cell (lower case) -> its Keras layer, from the one registry (rnnsim.registry).
CELL_LAYERS = {name: LAYER_NAMES[key] for name, key in ALIASES.items()}
OPTIMIZERS = ("rmsprop", "adam", "sgd")


@dataclass
class RunConfig:
    """Everything that defines a run; saved as config.json next to the model."""

    cell: str = "gru"  # 'rnn' | 'lstm' | 'gru', or any spelling rnnsim.registry accepts
    dataset: str = "adding"  # a task name from rnnsim.datasets.load_task
    units: int = 32  # hidden units per recurrent layer
    layers: int = 1  # stacked recurrent layers
    bidirectional: bool = False  # wrap each recurrent layer in Bidirectional (merge 'concat')
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "rmsprop"  # 'rmsprop' | 'adam' | 'sgd'
    lr: float | None = None  # learning rate; None = the optimizer's Keras default
    dropout: float = 0.0  # input dropout of the recurrent layers
    recurrent_dropout: float = 0.0  # recurrent-state dropout of the recurrent layers
    seq_len: int | None = None  # timesteps; None = the task's default
    samples: int | None = None  # training samples; None = the task's default
    seed: int = 0
    data: str | None = None  # data folder; None = RNNSIM_DATA or the user cache
    embedding_dim: int = 32  # for token tasks (IMDB, sentiment)
    device: str = "cpu"  # 'cpu' | 'cuda'

    def validate(self) -> RunConfig:
        resolve_cell(self.cell)  # InputError: unknown cell 'x'; choose one of rnn, lstm, gru
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        for name in ("units", "layers", "epochs", "batch_size", "embedding_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        for name in ("seq_len", "samples"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        for name in ("dropout", "recurrent_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise InputError(f"--{name.replace('_', '-')} must be in [0, 1), got {value}")
        if self.lr is not None and not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        if self.device not in ("cpu", "cuda"):
            raise InputError(f"unknown device {self.device!r}; choose cpu or cuda")
        return self

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def load_task(config: RunConfig):
    from rnnsim.datasets import load_task as load

    return load(config.dataset, data_path=config.data, seq_len=config.seq_len, n_samples=config.samples,
                seed=config.seed)


def make_optimizer(config: RunConfig):
    from rnnsim import optimizers

    kind = {"rmsprop": optimizers.RMSprop, "adam": optimizers.Adam, "sgd": optimizers.SGD}[config.optimizer]
    return kind() if config.lr is None else kind(learning_rate=config.lr)


def build_model(task, config: RunConfig):
    """The model the tutorial would build for this task: [Embedding] -> recurrent stack -> Dense; for the
    addition task the functional encoder-decoder (`build_encoder_decoder`)."""
    from rnnsim import layers
    from rnnsim.models import Sequential

    if task.info.get("architecture") == "encoder_decoder":
        return build_encoder_decoder(task, config)
    recurrent = getattr(layers, layer_name(config.cell))
    model = Sequential(seed=config.seed, device=config.device)  # 'cuda': recurrent layers on the GPU
    if task.vocab_size:
        model.add(layers.Embedding(task.vocab_size, config.embedding_dim, mask_zero=False))
    elif task.mask_train is not None:
        model.add(layers.Masking(0.0))  # padded float sequences: carry the state over the padding
    for index in range(config.layers):
        last = index == config.layers - 1
        layer = recurrent(
            config.units,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
            return_sequences=task.sequence_output or not last,
        )
        if config.bidirectional:
            layer = layers.Bidirectional(layer)
        model.add(layer)
    model.add(layers.Dense(task.output_units, activation=task.output_activation))
    model.compile(optimizer=make_optimizer(config), loss=task.loss, metrics=list(task.metrics))
    model.build((None,) + task.x_train.shape[1:])
    # Saved with the model, so `rnnsim inspect` and the app can rebuild the task's samples.
    model.metadata["task"] = {"name": task.name, "seq_len": task.seq_len, "seed": config.seed}
    model.metadata["run"] = asdict(config)
    return model


def build_encoder_decoder(task, config: RunConfig):
    """The functional encoder-decoder for a task with inputs 'question' and 'answer_in' (addition):

        question -> Embedding(mask_zero) -> encoder (return_state) --states--+
        answer_in -> Embedding(mask_zero) -> decoder (return_sequences, initial_state) -> Dense(softmax)

    The encoder and decoder are the run's cell with `units` each; --layers and --bidirectional do not apply.
    """
    from rnnsim import layers
    from rnnsim.models import Input, Model

    if config.layers != 1 or config.bidirectional:
        raise InputError(f"the {task.name} task trains one encoder and one decoder layer; "
                         "leave out --layers and --bidirectional")
    recurrent = getattr(layers, layer_name(config.cell))
    question = Input(shape=(None,), dtype="int64", name="question")
    embedded = layers.Embedding(task.vocab_size, config.embedding_dim, mask_zero=True, name="question_embedding",
                                seed=config.seed)(question)
    encoder = recurrent(config.units, return_state=True, dropout=config.dropout,
                        recurrent_dropout=config.recurrent_dropout, name="encoder", seed=config.seed + 1)
    states = encoder(embedded)[1:]  # h (and c): the decoder starts from them
    answer_in = Input(shape=(None,), dtype="int64", name="answer_in")
    embedded = layers.Embedding(task.vocab_size, config.embedding_dim, mask_zero=True, name="answer_embedding",
                                seed=config.seed + 2)(answer_in)
    decoder = recurrent(config.units, return_sequences=True, dropout=config.dropout,
                        recurrent_dropout=config.recurrent_dropout, name="decoder", seed=config.seed + 3)
    decoded = decoder(embedded, initial_state=states)
    next_character = layers.Dense(task.output_units, activation=task.output_activation, name="next_character",
                                  seed=config.seed + 4)(decoded)
    model = Model([question, answer_in], next_character, name="encoder_decoder", seed=config.seed,
                  device=config.device)
    model.compile(optimizer=make_optimizer(config), loss=task.loss, metrics=list(task.metrics))
    model.metadata["task"] = {"name": task.name, "seq_len": task.seq_len, "seed": config.seed}
    model.metadata["run"] = asdict(config)
    return model


def save_run(out: Path, model, config: RunConfig, history: dict, epochs_done: int,
             saturation: list | None = None) -> None:
    """Write model.npz, history.json and config.json to `out` as one snapshot (rnnsim.runs); `saturation`
    is the per-epoch gate saturation (callbacks.SaturationHistory), kept in history.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_snapshot(out, model, asdict(config), history, epochs_done,
                   extra={"saturation": saturation} if saturation else None)


# What a saved run fixes, and what --resume may still change: how long, where it runs, where the data is.
MAY_CHANGE_ON_RESUME = ("epochs", "device", "data")
_MODEL_FIELDS = ("cell", "units", "layers", "bidirectional", "dropout", "recurrent_dropout", "embedding_dim",
                 "optimizer", "lr", "dataset")


def model_facts(model) -> dict:
    """What a loaded model says about its run, read from its layers and optimizer (not from any JSON)."""
    from rnnsim.layers import RNN, Bidirectional, Embedding
    from rnnsim.models import Sequential

    recurrent = [layer for layer in model.layers if isinstance(layer, (RNN, Bidirectional))]
    facts = {}
    if recurrent:
        first = recurrent[0].forward_layer if isinstance(recurrent[0], Bidirectional) else recurrent[0]
        facts.update(cell=short_name(first.cell_kind), units=first.units, dropout=first.dropout,
                     recurrent_dropout=first.recurrent_dropout)
        if isinstance(model, Sequential):  # a stack; an encoder-decoder's two layers are not --layers 2
            facts.update(layers=len(recurrent), bidirectional=isinstance(recurrent[0], Bidirectional))
    embedding = next((layer for layer in model.layers if isinstance(layer, Embedding)), None)
    if embedding is not None:
        facts["embedding_dim"] = embedding.output_dim
    if model.optimizer is not None:
        facts.update(optimizer=type(model.optimizer).__name__.lower(), lr=float(model.optimizer.learning_rate))
    task = model.metadata.get("task")
    if isinstance(task, dict) and task.get("name"):
        facts["dataset"] = task["name"]
    return facts


def _same(name: str, typed, saved) -> bool:
    if name == "cell":
        return short_name(str(typed)) == short_name(str(saved))
    if isinstance(typed, float) or isinstance(saved, float):
        return saved is not None and typed is not None and abs(float(typed) - float(saved)) <= 1e-9 * abs(saved)
    return typed == saved


def resume_config(snapshot, typed: dict, where: str = "the run folder") -> RunConfig:
    """The RunConfig to continue a saved run with; InputError if a typed flag disagrees with the run.

    Args:
        snapshot: what rnnsim.runs.RunFolder.load returned.
        typed: RunConfig field -> value, for the flags the user typed (not the defaults).
        where: the run folder, for the message.
    """
    saved = RunConfig.from_dict(snapshot.config)
    facts = model_facts(snapshot.model)
    truth = {**asdict(saved), **facts}  # the model file is the truth about the model
    task = snapshot.model.metadata.get("task") or {}
    if truth.get("seq_len") is None and task.get("seq_len"):
        truth["seq_len"] = int(task["seq_len"])
    order = [f.name for f in fields(RunConfig)]
    conflicts = [(name, typed[name]) for name in order if name in typed and name not in MAY_CHANGE_ON_RESUME
                 and not _same(name, typed[name], truth.get(name))]
    if conflicts:
        flags = ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in conflicts)
        values = ", ".join(f"{name.replace('_', ' ')} {truth[name]}" for name, _ in conflicts)
        raise InputError(f"{flags} {'disagrees' if len(conflicts) == 1 else 'disagree'} with the saved run "
                         f"({values} in {where}): --resume continues that run unchanged; drop "
                         f"{'it' if len(conflicts) == 1 else 'them'}, or train a new run with another --out")
    config = replace(saved, **{name: facts[name] for name in _MODEL_FIELDS if name in facts and name != "lr"})
    for name in MAY_CHANGE_ON_RESUME:
        if name in typed:
            setattr(config, name, typed[name])
    return config.validate()


def baseline_comparison(task, logs: dict) -> tuple[str, float | None, float]:
    """(label, our validation value, baseline value) for the task's baseline metric."""
    metric = task.baseline["metric"]
    key = "val_loss" if metric in ("loss", task.loss) else f"val_{metric}"
    if key not in logs and metric in ("accuracy", "acc"):
        key = "val_acc" if "val_acc" in logs else "val_accuracy"
    label = {"mae": "MAE", "mse": "MSE", "accuracy": "accuracy", "acc": "accuracy", "loss": "loss"}.get(metric, metric)
    return label, logs.get(key), float(task.baseline["value"])
