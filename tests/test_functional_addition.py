"""The encoder-decoder on the addition task: the data, training from the functional API, and looking
inside it with `rnnsim inspect` and the app (the encoder's and the decoder's gates, each under its own
input characters)."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from helpers import wait_for
from rich.console import Console

import rnnsim
from rnnsim import layers
from rnnsim.datasets import addition, load_task
from rnnsim.errors import InputError
from rnnsim.experiment import RunConfig, build_model


@pytest.fixture(autouse=True)
def fresh_names():
    rnnsim.backend.clear_session()


def test_the_data_reads_as_sums():
    data = addition.addition_problem(500, digits=3, seed=1)
    assert data["question"].shape == (500, 7) and data["answer_in"].shape == (500, 5)
    for row in range(500):
        question = addition.decode(data["question"][row])
        first, second = (int(part) for part in question.split("+"))
        assert (first, second) == (data["a"][row], data["b"][row]) and first < 1000 and second < 1000
        assert addition.decode(data["answer_out"][row]) == str(first + second)
        assert addition.decode(data["answer_in"][row]) == "=" + str(first + second)
        assert addition.decode(data["answer_out"][row], stop_at_end=False) == f"{first + second}."
    # teacher forcing: what the decoder reads at step t+1 is what it must write at step t
    real = data["answer_in"][:, 1:] != addition.PAD
    np.testing.assert_array_equal(data["answer_in"][:, 1:][real], data["answer_out"][:, :-1][real])
    lengths = {len(str(a)) for a in data["a"]}
    assert lengths == {1, 2, 3}  # numbers of every length, not only the longest
    np.testing.assert_array_equal(addition.addition_problem(500, 3, seed=1)["question"], data["question"])


def test_bad_addition_arguments_are_one_line():
    with pytest.raises(InputError, match="digits must be an integer of at least 1"):
        addition.addition_problem(10, digits=0)
    with pytest.raises(InputError, match="has no character 'x'"):
        addition.encode("1x2", 5)


def test_the_addition_task_holds_one_field_per_model_input():
    task = load_task("addition", n_samples=400)
    assert task.input_fields == ("question", "answer_in")
    assert task.seq_len == 5 and task.y_train.shape == (400, 4) and len(task.x_val) == 100
    assert task.loss == "sparse_categorical_crossentropy" and task.info["architecture"] == "encoder_decoder"
    assert 0.2 < task.baseline["value"] < 0.6
    assert addition.decode(task.x_val["question"][0]) + "=" + addition.decode(task.y_val[0]) == \
        addition.decode(task.x_val["question"][0]) + addition.decode(task.x_val["answer_in"][0])


def _trained_encoder_decoder(epochs=30, samples=8000):
    task = load_task("addition", n_samples=samples)
    config = RunConfig(cell="lstm", dataset="addition", units=32, epochs=epochs, lr=3e-3, seed=0)
    model = build_model(task, config)
    history = model.fit(task.x_train, task.y_train, batch_size=64, epochs=epochs, verbose=0,
                        validation_data=(task.x_val, task.y_val))
    return task, model, history


def test_the_functional_encoder_decoder_learns_to_add():
    task, model, history = _trained_encoder_decoder()
    assert [layer.name for layer in model.layers] == [
        "question", "answer_in", "question_embedding", "answer_embedding", "encoder", "decoder", "next_character"]
    assert history.history["val_accuracy"][-1] > 0.9 > task.baseline["value"]
    questions = task.x_val["question"]
    written = addition.greedy_answers(model.predict, questions, task.x_val["answer_in"].shape[1])
    sums = [eval(addition.decode(q)) for q in questions]  # the questions are 'a+b' in digits only
    exact = np.mean([addition.decode(w) == str(s) for w, s in zip(written, sums)])
    assert exact > 0.8  # whole answers, each written from the model's own previous characters


def _saved_encoder_decoder(tmp_path):
    _, model, _ = _trained_encoder_decoder(epochs=2, samples=512)
    path = tmp_path / "model.npz"
    model.save(path)
    # what inspect and the app probe: the validation samples of the task rebuilt from the saved metadata
    return load_task("addition", n_samples=64, seed=0), path


def test_rnnsim_inspect_shows_the_encoder_and_the_decoder_each_under_its_own_input(tmp_path):
    from rnnsim.cli import inspect_command

    task, path = _saved_encoder_decoder(tmp_path)
    question = " ".join(addition.decode(task.x_val["question"][2]))
    answer_in = " ".join(addition.decode(task.x_val["answer_in"][2]))
    for layer, timesteps, text in (("encoder", 5, question), ("decoder", 4, answer_in), ("1", 4, answer_in)):
        console = Console(width=100, file=io.StringIO(), force_terminal=False)
        assert inspect_command(path, sample=2, layer=layer, console=console) == 0
        printed = console.file.getvalue()
        name = "decoder" if layer == "1" else layer
        assert f"{name} (lstm, 32 units, {timesteps} timesteps), sample 2" in printed
        assert f"inputs: {text}" in printed
    assert inspect_command(path, layer="attention", console=Console(file=io.StringIO())) == 2


def test_the_app_opens_the_encoder_decoder_and_switches_layers(tmp_path):
    from tui.app import RnnsimApp

    task, path = _saved_encoder_decoder(tmp_path)

    async def scenario():
        app = RnnsimApp(checkpoint=str(path))
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.state == "checkpoint", timeout=60)
            assert [trace.layer_name for trace in screen.traces] == ["encoder", "decoder"]
            assert screen.settings.task == "addition" and screen.trace.layer_name == "encoder"
            assert screen._tokens_of_trace()[0] == list(addition.decode(task.x_val["question"][0]).ljust(5))
            await pilot.press("L")
            assert screen.trace.layer_name == "decoder"
            assert screen._tokens_of_trace()[0][0] == "="
            assert "layer decoder (2/2, L)" in str(screen.query_one("#status").render())
            await pilot.press("2", "right")
            assert "t=1/3" in str(screen.query_one("#inspector").render())
            await pilot.press("L")
            assert screen.trace.layer_name == "encoder"

    asyncio.run(scenario())


def test_the_encoder_decoder_needs_one_layer_each():
    task = load_task("addition", n_samples=64)
    with pytest.raises(InputError, match="trains one encoder and one decoder layer"):
        build_model(task, RunConfig(dataset="addition", layers=2))


def test_a_gru_encoder_hands_one_state_and_an_lstm_two():
    task = load_task("addition", n_samples=64)
    gru = build_model(task, RunConfig(cell="gru", dataset="addition", units=8))
    lstm = build_model(task, RunConfig(cell="lstm", dataset="addition", units=8))
    assert len(gru.get_layer("decoder").weights) == 3
    assert [len(node.initial_state) for node in gru.nodes if node.layer.name == "decoder"] == [1]
    assert [len(node.initial_state) for node in lstm.nodes if node.layer.name == "decoder"] == [2]
    assert isinstance(lstm.get_layer("encoder"), layers.LSTM)


def test_training_the_addition_task_in_the_app_shows_each_layer_its_own_characters():
    from tui.session import ProbeEvent, Settings, TrainingSession

    session = TrainingSession(Settings(task="addition", seq_len=5, epochs=1, n_samples=256, units=8))
    session.prepare()
    probes = [event for event in session.events() if isinstance(event, ProbeEvent)]
    assert [trace.layer_name for trace in probes[-1].traces] == ["encoder", "decoder"]
    questions, answers = session.task.x_val["question"][:8], session.task.x_val["answer_in"][:8]
    assert probes[-1].tokens_by_layer["encoder"][3] == list(addition.decode(questions[3]).ljust(5))
    assert probes[-1].tokens_by_layer["decoder"][3] == list(addition.decode(answers[3]).ljust(4))
    assert probes[-1].tokens == probes[-1].tokens_by_layer["encoder"]
