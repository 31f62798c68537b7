"""Functional models: Input, layers called on symbolic tensors, Model(inputs, outputs).

Numbers are checked against Sequential (the same chain must give the same bits), against central
differences in float64 (the graph's backward pass, state hand-offs included), and against what
Keras 3 prints and reports (its summary table and its log names, recorded side by side with
Keras 3.15 on the torch backend).
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import rnnsim
from rnnsim import layers
from rnnsim.errors import InputError
from rnnsim.models import Input, Model, Sequential, load_model
from rnnsim.optimizers import SGD, Adam


@pytest.fixture(autouse=True)
def fresh_names():
    rnnsim.backend.clear_session()  # automatic names ('lstm', 'dense', ...) start again in every test
    yield
    rnnsim.utils.random.set_global_seed(None)


def encoder_decoder(dtype="float32", units=7, cell=layers.LSTM):
    """The Keras seq2seq recipe: the encoder's final states start the decoder."""
    question = Input(shape=(None, 4), name="question", dtype=dtype)
    states = cell(units, return_state=True, name="encoder", seed=1)(question)[1:]
    answer_in = Input(shape=(None, 5), name="answer_in", dtype=dtype)
    decoded = cell(units, return_sequences=True, name="decoder", seed=2)(answer_in, initial_state=states)
    output = layers.Dense(5, activation="softmax", name="next_char", seed=3)(decoded)
    return Model([question, answer_in], output, seed=0)


def seq2seq_data(dtype=np.float32, count=8, seed=0):
    rng = np.random.default_rng(seed)
    question = rng.normal(0, 1, (count, 6, 4)).astype(dtype)
    answer_in = rng.normal(0, 1, (count, 3, 5)).astype(dtype)
    labels = rng.integers(0, 5, (count, 3))
    return question, answer_in, labels


# ---------------------------------------------------------------------------------------
# Sequential and functional: the same chain, the same numbers


def test_a_chain_gives_the_same_numbers_as_sequential_to_the_last_bit():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, (40, 12))
    x[:5, :4] = 0  # some padding for mask_zero
    y = rng.integers(0, 2, (40, 1)).astype(np.float32)
    sequential = Sequential([layers.Embedding(50, 8, mask_zero=True), layers.LSTM(6, return_sequences=True),
                             layers.GRU(5), layers.Dense(1, activation="sigmoid")], seed=3)
    sequential.build((None, 12))
    tokens = Input(shape=(12,), dtype="int64")
    hidden = layers.LSTM(6, return_sequences=True)(layers.Embedding(50, 8, mask_zero=True)(tokens))
    functional = Model(tokens, layers.Dense(1, activation="sigmoid")(layers.GRU(5)(hidden)), seed=3)
    functional.set_weights(sequential.get_weights())
    for model in (sequential, functional):
        model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["acc"])
    seq_history = sequential.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.25).history
    fun_history = functional.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.25).history
    assert seq_history == fun_history
    for ours, theirs in zip(functional.get_weights(), sequential.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(functional.predict(x), sequential.predict(x))
    assert functional.evaluate(x, y) == sequential.evaluate(x, y)
    seq_probe, fun_probe = sequential.probe(x[:3], y[:3]), functional.probe(x[:3], y[:3])
    assert [t.layer_name for t in fun_probe.traces] == [t.layer_name for t in seq_probe.traces] == ["lstm", "gru"]
    for ours, theirs in zip(fun_probe.traces, seq_probe.traces):
        np.testing.assert_array_equal(ours.grad_hidden_norm, theirs.grad_hidden_norm)
        for gate in ours.gate_names:
            np.testing.assert_array_equal(ours.gates[gate], theirs.gates[gate])


# ---------------------------------------------------------------------------------------
# The graph's backward pass, by central differences


def _check_gradients(model, x, y, entries=4, tolerance=1e-6):
    _, grads = model.loss_and_gradients(x, y)
    weights = model.weights
    rng = np.random.default_rng(7)
    assert len(grads) == len(weights)
    for weight, grad in zip(weights, grads):
        for flat in rng.choice(weight.size, size=min(entries, weight.size), replace=False):
            index = np.unravel_index(flat, weight.shape)
            saved = weight[index]
            weight[index] = saved + 1e-6
            plus = model.loss_and_gradients(x, y)[0]
            weight[index] = saved - 1e-6
            minus = model.loss_and_gradients(x, y)[0]
            weight[index] = saved
            numeric = (plus - minus) / 2e-6
            assert abs(numeric - grad[index]) <= tolerance * max(1.0, abs(numeric)), (weight.shape, index)


@pytest.mark.parametrize("cell", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_the_encoder_decoder_gradients_cross_the_state_hand_off(cell):
    model = encoder_decoder("float64", units=3, cell=cell)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    question, answer_in, labels = seq2seq_data(np.float64, count=4)
    _check_gradients(model, [question, answer_in], labels)
    _, grads = model.loss_and_gradients([question, answer_in], labels)
    encoder_kernel = grads[0]  # only the hand-off carries the loss back to the encoder
    assert np.abs(encoder_kernel).max() > 1e-4


def test_branches_joined_by_concatenate_and_add_and_two_outputs_have_exact_gradients():
    first, second = Input((5, 2), dtype="float64", name="first"), Input((5, 3), dtype="float64", name="second")
    lstm = layers.LSTM(3, seed=1)(first)
    gru = layers.GRU(3, seed=2)(second)
    joined = layers.concatenate([lstm, gru, layers.add([lstm, gru])])
    score = layers.Dense(1, name="score", seed=3)(joined)
    label = layers.Dense(4, activation="softmax", name="label", seed=4)(layers.Multiply()([lstm, gru]))
    model = Model([first, second], [score, label])
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5])
    rng = np.random.default_rng(1)
    x = [rng.normal(0, 1, (6, 5, 2)), rng.normal(0, 1, (6, 5, 3))]
    y = [rng.normal(0, 1, (6, 1)), rng.integers(0, 4, 6)]
    _check_gradients(model, x, y)


def test_a_bidirectional_encoder_with_return_state_feeds_a_decoder_with_exact_gradients():
    source = Input((None, 3), dtype="float64")
    _, forward_h, backward_h = layers.Bidirectional(layers.GRU(4, return_state=True, seed=5),
                                                    merge_mode="sum")(source)
    target = Input((None, 2), dtype="float64")
    decoded = layers.GRU(4, return_sequences=True, seed=6)(target, initial_state=layers.Add()([forward_h, backward_h]))
    model = Model([source, target], layers.Dense(1, seed=7)(decoded))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(2)
    x = [rng.normal(0, 1, (3, 6, 3)), rng.normal(0, 1, (3, 4, 2))]
    _check_gradients(model, x, rng.normal(0, 1, (3, 4, 1)))


def test_an_output_without_a_loss_leaves_its_layers_alone():
    inputs = Input((4, 2))
    hidden = layers.SimpleRNN(3)(inputs)
    trained, ignored = layers.Dense(1, name="trained")(hidden), layers.Dense(2, name="ignored")(hidden)
    model = Model(inputs, [trained, ignored])
    model.compile(optimizer=SGD(learning_rate=0.1), loss={"trained": "mse"})
    before = model.get_layer("ignored").get_weights()
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.normal(0, 1, (5, 4, 2)), [rng.normal(0, 1, (5, 1)), rng.normal(0, 1, (5, 2))])
    for kept, now in zip(before, model.get_layer("ignored").get_weights()):
        np.testing.assert_array_equal(kept, now)
    assert model.metric_names == ["trained_loss"]


# ---------------------------------------------------------------------------------------
# Several inputs and outputs: data formats, losses, metrics, results


def test_inputs_as_a_list_a_dict_or_a_structured_array_give_the_same_predictions():
    model = encoder_decoder()
    question, answer_in, _ = seq2seq_data()
    as_list = model.predict([question, answer_in])
    np.testing.assert_array_equal(model.predict({"answer_in": answer_in, "question": question}), as_list)
    packed = np.zeros(len(question), dtype=[("question", np.float32, (6, 4)), ("answer_in", np.float32, (3, 5))])
    packed["question"], packed["answer_in"] = question, answer_in
    np.testing.assert_array_equal(model.predict(packed, batch_size=3), as_list)
    np.testing.assert_array_equal(model([question, answer_in]), as_list)


def test_wrong_input_structures_name_the_inputs():
    model = encoder_decoder()
    question, answer_in, _ = seq2seq_data()
    with pytest.raises(InputError, match=r"2 inputs \(question, answer_in\): give a list of 2 arrays"):
        model.predict(question)
    with pytest.raises(InputError, match="named question, answer_in; the dict has question, answers"):
        model.predict({"question": question, "answers": answer_in})
    with pytest.raises(InputError, match=r"input 'answer_in' expects arrays of shape \(None, None, 5\)"):
        model.predict([question, answer_in[..., :4]])
    with pytest.raises(InputError, match="different numbers of samples"):
        model.predict([question, answer_in[:4]])


def test_multi_output_losses_weights_and_metrics_are_reported_as_keras_3_names_them():
    inputs = Input((6, 3))
    hidden = layers.GRU(4, seed=1)(inputs)
    flag = layers.Dense(1, activation="sigmoid", name="o1", seed=2)(hidden)
    kind = layers.Dense(3, activation="softmax", name="o2", seed=3)(hidden)
    model = Model(inputs, [flag, kind])
    model.compile(optimizer="rmsprop", loss=["binary_crossentropy", "sparse_categorical_crossentropy"],
                  loss_weights={"o1": 2.0, "o2": 0.5}, metrics=[["acc"], ["acc"]])
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (16, 6, 3)).astype(np.float32)
    y = [rng.integers(0, 2, (16, 1)), rng.integers(0, 3, 16)]
    logs = model.evaluate(x, y, batch_size=16, return_dict=True)
    # Keras 3 logs: loss, o1_loss, o2_loss, o1_acc, o2_acc (evaluate lists them in that order)
    assert list(logs) == ["loss", "o1_loss", "o2_loss", "o1_acc", "o2_acc"]
    flag_p, kind_p = model.predict(x)
    flag_p, kind_p = flag_p.astype(np.float64), kind_p.astype(np.float64)
    bce = -np.mean(y[0] * np.log(flag_p) + (1 - y[0]) * np.log(1 - flag_p))
    sce = -np.mean(np.log(kind_p[np.arange(16), y[1]]))
    assert logs["o1_loss"] == pytest.approx(bce, rel=1e-5)
    assert logs["o2_loss"] == pytest.approx(sce, rel=1e-5)
    assert logs["loss"] == pytest.approx(2.0 * bce + 0.5 * sce, rel=1e-5)
    assert logs["o1_acc"] == np.mean((flag_p > 0.5) == (y[0] > 0.5))
    assert logs["o2_acc"] == np.mean(kind_p.argmax(-1) == y[1])
    assert model.evaluate(x, y, batch_size=16) == list(logs.values())
    history = model.fit(x, {"o1": y[0], "o2": y[1]}, epochs=1, batch_size=8, verbose=0).history
    assert sorted(history) == ["loss", "o1_acc", "o1_loss", "o2_acc", "o2_loss"]


def test_one_metric_list_for_several_outputs_is_refused_as_keras_3_refuses_it():
    inputs = Input((6, 3))
    hidden = layers.GRU(4)(inputs)
    model = Model(inputs, [layers.Dense(1, name="a")(hidden), layers.Dense(3, name="b")(hidden)])
    with pytest.raises(InputError, match="metrics has 1 entries but the model has 2 outputs"):
        model.compile(loss="mse", metrics=["mae"])
    with pytest.raises(InputError, match="loss names 'c', not among the outputs a, b"):
        model.compile(loss={"c": "mse"})


# ---------------------------------------------------------------------------------------
# Building: shapes, names, errors


def test_layers_build_when_called_and_report_keras_shapes_and_names():
    inputs = Input(shape=(10, 4))
    assert inputs.shape == (None, 10, 4) and inputs.dtype == "float32"
    output, h, c = layers.LSTM(8, return_state=True)(inputs)
    assert [t.shape for t in (output, h, c)] == [(None, 8)] * 3
    sequence = layers.Bidirectional(layers.GRU(3, return_sequences=True))(inputs)
    assert sequence.shape == (None, 10, 6)
    model = Model(inputs, [layers.Dense(2)(output), sequence])
    # Keras 3's order: by depth from the outputs, ties in the order a walk from the outputs finishes them
    assert [layer.name for layer in model.layers] == ["input_layer", "lstm", "dense", "bidirectional"]
    assert model.output_names == ["dense", "bidirectional"]
    assert model.input_shape == (None, 10, 4) and model.output_shape == [(None, 2), (None, 10, 6)]
    assert model.name == "functional"
    assert Model(inputs, sequence).name == "functional_1"


def test_a_layer_called_on_an_incompatible_shape_names_the_layer_and_the_shapes():
    flat = Input((4,))
    with pytest.raises(InputError, match=r"layer 'lstm' \(LSTM\) cannot take input of shape \(None, 4\)"):
        layers.LSTM(3)(flat)
    dense = layers.Dense(2, name="head")
    dense(Input((8,)))
    with pytest.raises(InputError, match=r"layer 'head' \(Dense\) was built for input \(None, 8\) and cannot "
                                         r"take \(None, 4\)"):
        dense(flat)
    with pytest.raises(InputError, match=r"Concatenate\) needs inputs that agree on every axis but -1, got "
                                         r"\(None, 4\), \(None, 3, 2\)"):
        layers.Concatenate()([flat, Input((3, 2))])
    with pytest.raises(InputError, match=r"has 3 units, so each initial state must have shape \(None, 3\)"):
        layers.GRU(3)(Input((5, 2)), initial_state=Input((4,)))
    with pytest.raises(InputError, match=r"needs 2 initial state tensors, got 1"):
        layers.LSTM(3)(Input((5, 2)), initial_state=[Input((3,))])


def test_a_graph_with_a_disconnected_input_is_refused_with_its_name():
    used, spare = Input((5, 2), name="used"), Input((5, 2), name="spare")
    output = layers.Dense(1)(layers.GRU(2)(used))
    with pytest.raises(InputError, match=r"graph disconnected: Input 'spare' \(None, 5, 2\) leads to none"):
        Model([used, spare], output)
    with pytest.raises(InputError, match=r"graph disconnected: the outputs depend on Input 'used'"):
        Model(spare, output)
    with pytest.raises(InputError, match="model inputs must come from rnnsim.Input"):
        Model(layers.GRU(2)(used), output)


def test_a_layer_called_twice_in_one_model_is_refused_but_may_serve_another_model():
    shared = layers.Dense(3, name="shared")
    first, second = Input((4,)), Input((4,))
    with pytest.raises(InputError, match="layer 'shared' is called twice in this model"):
        Model([first, second], layers.Add()([shared(first), shared(second)]))
    # Keras's seq2seq inference reuses trained layers in a second model: one node per model is fine
    assert Model(second, shared(second)).layers[-1] is shared


def test_symbolic_tensors_hold_no_values_and_models_are_not_layers():
    inputs = Input((3,))
    with pytest.raises(InputError, match="holds no values"):
        np.asarray(inputs)
    model = Model(inputs, layers.Dense(1)(inputs))
    with pytest.raises(InputError, match="a model inside a model"):
        model(Input((3,)))
    with pytest.raises(InputError, match="pass no mask="):
        layers.Dense(1)(inputs, mask=np.ones(3, bool))


def test_set_random_seed_rebuilds_the_same_weights_and_clear_session_restarts_names():
    def build():
        rnnsim.backend.clear_session()
        inputs = Input((5, 2))
        return Model(inputs, layers.Dense(1)(layers.LSTM(3)(inputs)))

    rnnsim.utils.set_random_seed(4)
    first = build()
    rnnsim.utils.set_random_seed(4)
    second = build()
    assert [layer.name for layer in second.layers] == ["input_layer", "lstm", "dense"]
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    rnnsim.utils.set_random_seed(5)
    assert not np.array_equal(build().get_weights()[0], first.get_weights()[0])


# ---------------------------------------------------------------------------------------
# Summary, as Keras 3 prints it


KERAS_SEQ2SEQ_SUMMARY = """\
Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ question            │ (None, None, 4)   │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ answer_in           │ (None, None, 5)   │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ encoder (LSTM)      │ [(None, 8),       │        416 │ question[0][0]    │
│                     │ (None, 8), (None, │            │                   │
│                     │ 8)]               │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ decoder (LSTM)      │ (None, None, 8)   │        448 │ answer_in[0][0],  │
│                     │                   │            │ encoder[0][1],    │
│                     │                   │            │ encoder[0][2]     │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ next_char (Dense)   │ (None, None, 5)   │         45 │ decoder[0][0]     │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 909 (3.55 KB)
 Trainable params: 909 (3.55 KB)
 Non-trainable params: 0 (0.00 B)"""

KERAS_CHAIN_SUMMARY = """\
Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer (InputLayer)        │ (None, 10, 3)          │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ lstm (LSTM)                     │ (None, 4)              │           128 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 1)              │             5 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 133 (532.00 B)
 Trainable params: 133 (532.00 B)
 Non-trainable params: 0 (0.00 B)"""


def test_summary_prints_keras_3s_table_with_connected_to_for_a_graph():
    printed = []
    encoder_decoder(units=8).summary(line_length=76, print_fn=printed.append)
    assert printed == [KERAS_SEQ2SEQ_SUMMARY]  # what Keras 3.15 printed for the same model, 80 columns


def test_summary_of_a_chain_has_keras_3s_three_columns():
    inputs = Input((10, 3))
    printed = []
    Model(inputs, layers.Dense(1)(layers.LSTM(4)(inputs))).summary(line_length=76, print_fn=printed.append)
    assert printed == [KERAS_CHAIN_SUMMARY]


# ---------------------------------------------------------------------------------------
# Saving


def test_save_and_load_model_resume_exactly_where_training_stopped(tmp_path):
    question, answer_in, labels = seq2seq_data(count=24)
    x = [question, answer_in]

    def trained(epochs, model=None):
        model = model or encoder_decoder()
        if not model.compiled:
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
        model.fit(x, labels, batch_size=8, epochs=epochs, verbose=0, initial_epoch=model.epochs_trained)
        return model

    straight = trained(2)
    rnnsim.backend.clear_session()
    halfway = trained(1)
    halfway.metadata["note"] = "saved after one epoch"
    halfway.save(tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")
    assert type(loaded) is Model and loaded.metadata == {"note": "saved after one epoch"}
    assert [layer.name for layer in loaded.layers] == ["question", "answer_in", "encoder", "decoder", "next_char"]
    np.testing.assert_array_equal(loaded.predict(x), halfway.predict(x))
    trained(2, loaded)
    for ours, theirs in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_saved_multi_output_model_keeps_its_losses_weights_and_metrics(tmp_path):
    inputs = Input((6, 3), name="series")
    hidden = layers.Bidirectional(layers.GRU(4, return_sequences=True))(inputs)
    model = Model(inputs, [layers.Dense(1, name="level")(layers.GRU(2)(hidden)), layers.Dense(2, name="step")(hidden)])
    model.compile(optimizer="sgd", loss={"level": "mse", "step": "mae"}, loss_weights=[1.0, 0.25],
                  metrics={"level": ["mae"]})
    model.save(tmp_path / "two.npz")
    loaded = load_model(tmp_path / "two.npz")
    assert loaded.metric_names == model.metric_names == ["level_loss", "step_loss", "level_mae"]
    assert loaded.compile_arguments == model.compile_arguments
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (5, 6, 3)).astype(np.float32)
    y = [rng.normal(0, 1, (5, 1)), rng.normal(0, 1, (5, 6, 2))]
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_an_unknown_layer_in_a_saved_model_is_one_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    encoder_decoder().save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    config = json.loads(arrays["__config__"].tobytes().decode("utf-8"))
    config["model"]["layers"][3]["class_name"] = "Attention"
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)
    assert zipfile.is_zipfile(path)
    with pytest.raises(InputError, match=r"unknown layer class 'Attention' \(layer 'decoder'\)"):
        load_model(path)


# ---------------------------------------------------------------------------------------
# The device: state hand-offs on 'cuda' (Numba's CUDA simulator, in a fresh interpreter)


DEVICE_SCRIPT = """
import numpy as np
import rnnsim
from rnnsim import layers
from rnnsim.models import Input, Model

def build(device):
    rnnsim.backend.clear_session()
    question, answer = Input((None, 3), dtype="float64"), Input((None, 2), dtype="float64")
    _, h, c = layers.LSTM(3, return_state=True, seed=1)(question)
    both, forward_h, _ = layers.Bidirectional(layers.GRU(3, return_state=True, return_sequences=True, seed=2))(
        answer, initial_state=[h, c])
    sequence = layers.Dense(2, seed=3)(layers.Concatenate()([both, both]))
    model = Model([question, answer], [sequence, layers.Dense(1, seed=4)(forward_h)], device=device, seed=0)
    model.compile("sgd", loss="mse")
    return model

rng = np.random.default_rng(0)
x = [rng.normal(0, 1, (2, 4, 3)), rng.normal(0, 1, (2, 3, 2))]
y = [rng.normal(0, 1, (2, 3, 2)), rng.normal(0, 1, (2, 1))]
cpu, gpu = build("cpu"), build("cuda")
(cpu_loss, cpu_grads), (gpu_loss, gpu_grads) = cpu.loss_and_gradients(x, y), gpu.loss_and_gradients(x, y)
assert abs(cpu_loss - gpu_loss) < 1e-12, (cpu_loss, gpu_loss)
assert max(float(np.abs(a - b).max()) for a, b in zip(cpu_grads, gpu_grads)) < 1e-12
cpu.train_on_batch(x, y)
gpu.train_on_batch(x, y)
assert max(float(np.abs(a - b).max()) for a, b in zip(cpu.get_weights(), gpu.get_weights())) < 1e-12
print("ok")
"""


def test_on_the_device_the_state_hand_offs_give_the_cpus_gradients_and_steps():
    import os
    import subprocess
    import sys
    from pathlib import Path

    environment = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", DEVICE_SCRIPT], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1], env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_a_generator_of_dict_batches_trains_a_model_with_several_inputs():
    model = encoder_decoder()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    question, answer_in, labels = seq2seq_data(count=12)

    def batches():
        while True:
            for start in range(0, 12, 4):
                window = slice(start, start + 4)
                yield {"question": question[window], "answer_in": answer_in[window]}, labels[window]

    history = model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0,
                        validation_data=([question, answer_in], labels)).history
    assert len(history["loss"]) == 2 and len(history["val_accuracy"]) == 2
    assert model.optimizer.iterations == 6


def test_kerass_seq2seq_inference_models_reuse_the_trained_layers_step_by_step():
    # keras.io's lstm_seq2seq: train with teacher forcing, then decode one step at a time with two
    # models built from the same layers, the states going out of one call and into the next
    encoder_inputs = Input(shape=(None, 4))
    _, state_h, state_c = layers.LSTM(6, return_state=True, seed=1)(encoder_inputs)
    decoder_inputs = Input(shape=(None, 5))
    decoder_lstm = layers.LSTM(6, return_sequences=True, return_state=True, seed=2)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_dense = layers.Dense(5, activation="softmax", seed=3)
    model = Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
    question, answer_in, _ = seq2seq_data(count=3)
    teacher_forced = model.predict([question, answer_in])

    encoder_model = Model(encoder_inputs, [state_h, state_c])
    state_inputs = [Input(shape=(6,)), Input(shape=(6,))]
    step_outputs, step_h, step_c = decoder_lstm(decoder_inputs, initial_state=state_inputs)
    decoder_model = Model([decoder_inputs] + state_inputs, [decoder_dense(step_outputs), step_h, step_c])
    states = encoder_model.predict(question)
    for t in range(answer_in.shape[1]):
        probabilities, *states = decoder_model.predict([answer_in[:, t:t + 1]] + states)
        np.testing.assert_allclose(probabilities[:, 0], teacher_forced[:, t], atol=1e-6)
