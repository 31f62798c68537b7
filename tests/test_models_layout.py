"""The layers and models packages: importable in any order, no import circle, the methods the model calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import internal_edges, package_modules

from rnnsim import layers
from rnnsim.errors import InputError
from rnnsim.layers import LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnsim.models import Sequential, load_model

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "rnnsim"


def test_saving_no_longer_imports_the_model_classes():
    graph = internal_edges(package_modules("rnnsim"))
    assert not any(target.startswith("rnnsim.models.sequential") for target in graph["rnnsim.models.saving"])
    assert "rnnsim.models.saving" in graph["rnnsim.saving"]  # the old path is an alias


@pytest.mark.parametrize("first, then", [
    ("rnnsim.saving", "rnnsim.models"),
    ("rnnsim.models", "rnnsim.saving"),
    ("rnnsim.models.saving", "rnnsim.layers"),
    ("rnnsim.models.training", "rnnsim.models.sequential"),
    ("rnnsim.layers.bidirectional", "rnnsim.models"),
])
def test_modules_import_in_either_order_in_a_fresh_interpreter(first, then):
    script = (
        f"import importlib\nimportlib.import_module({first!r})\nimportlib.import_module({then!r})\n"
        "import rnnsim.models, rnnsim.saving, rnnsim.layers\n"
        "assert rnnsim.saving.load_model is rnnsim.models.load_model\n"
        "assert rnnsim.models.saving.MODEL_CLASSES['Sequential'] is rnnsim.models.Sequential\n"
        "print(sorted(rnnsim.layers.LAYER_CLASSES))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sorted(["Embedding", "Dense", "Activation", "Dropout", "Masking", "SimpleRNN",
                                              "LSTM", "GRU", "Bidirectional", "Concatenate", "Add", "Subtract",
                                              "Multiply", "Average", "Flatten", "Reshape", "RepeatVector", "Conv1D",
                                              "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
                                              "GlobalAveragePooling1D", "TextVectorization"]))


def test_public_import_paths_still_work():
    from rnnsim.layers import FLOAT_DTYPES, LAYER_CLASSES, RNN, Dropout, Layer, Masking, layer_from_config, serialize
    from rnnsim.models import set_seed
    from rnnsim.optimizers import SparseRows
    from rnnsim.saving import save_model
    from rnnsim.sparse import SparseRows as SparseRowsHome

    assert SparseRows is SparseRowsHome
    assert issubclass(LSTM, RNN) and issubclass(Dropout, Layer) and issubclass(Masking, Layer)
    assert list(LAYER_CLASSES) == ["Embedding", "Dense", "Activation", "Dropout", "Masking", "SimpleRNN", "LSTM",
                                   "GRU", "Bidirectional", "Concatenate", "Add", "Subtract", "Multiply", "Average",
                                   "Flatten", "Reshape", "RepeatVector", "Conv1D", "MaxPooling1D", "AveragePooling1D",
                                   "GlobalMaxPooling1D", "GlobalAveragePooling1D", "TextVectorization"]
    assert FLOAT_DTYPES == ("float32", "float64")
    assert callable(layer_from_config) and callable(serialize) and callable(set_seed) and callable(save_model)


# ---------------------------------------------------------------------------------------
# The registries


def test_a_registered_layer_class_loads_by_name_and_a_clashing_name_is_refused():
    class Doubling(layers.Layer):
        has_weights = False

        def forward(self, x, mask=None, training=False, record_trace=False):
            return 2.0 * np.asarray(x)

    layers.register(Doubling)
    try:
        rebuilt = layers.layer_from_config(layers.serialize(Doubling(name="twice")))
        assert type(rebuilt) is Doubling and rebuilt.name == "twice"
        layers.register(Doubling)  # the same class again: fine

        class Other(layers.Layer):
            pass

        Other.__name__ = "Doubling"
        with pytest.raises(ValueError, match="two layer classes are named 'Doubling'"):
            layers.register(Other)
    finally:
        del layers.LAYER_CLASSES["Doubling"]
    with pytest.raises(InputError, match="unknown layer class 'Doubling'"):
        layers.layer_from_config({"class_name": "Doubling", "config": {}})


def test_bidirectional_rebuilds_its_inner_layer_through_the_registry():
    wrapper = Bidirectional(LSTM(3, return_sequences=True, seed=4), merge_mode="sum", name="both")
    rebuilt = layers.layer_from_config(layers.serialize(wrapper))
    assert type(rebuilt.forward_layer) is LSTM and rebuilt.merge_mode == "sum"
    assert rebuilt.get_config() == wrapper.get_config()


def test_load_model_names_an_unknown_model_class(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    config = json.loads(arrays["__config__"].tobytes().decode("utf-8"))
    config["model"]["class_name"] = "Functional"
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)
    np.savez(tmp_path / "other.npz", **arrays)
    with pytest.raises(InputError, match=r"cannot be rebuilt: unknown model class 'Functional'"):
        load_model(tmp_path / "other.npz")
    np.testing.assert_array_equal(load_model(path).get_weights()[0], model.get_weights()[0])


# ---------------------------------------------------------------------------------------
# The public methods the model calls instead of reaching into layers


def test_dense_last_logits_are_the_pre_activation_of_the_last_forward_pass():
    dense = Dense(3, activation="sigmoid", seed=1)
    x = np.random.default_rng(0).normal(size=(4, 5))
    output = dense(x)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(dense.last_logits(), x.astype(np.float32) @ kernel + bias, rtol=1e-6)
    np.testing.assert_allclose(output, 1.0 / (1.0 + np.exp(-dense.last_logits())), rtol=1e-6)


def test_release_cache_drops_the_recorded_traces_of_recurrent_layers():
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    for layer in (SimpleRNN(4, seed=0), Bidirectional(LSTM(4, seed=0))):
        layer(x)
        layer.forward(x, record_trace=True)
        assert layer.traces()
        layer.release_cache()
        assert layer.traces() == []
    dense = Dense(2, seed=0)
    dense(x)
    dense.release_cache()
    with pytest.raises(TypeError):  # nothing left to go backward from
        dense.backward(np.ones((2, 5, 2), np.float32))


def test_probe_leaves_no_traces_behind_and_training_goes_on():
    rng = np.random.default_rng(2)
    x, y = rng.integers(1, 9, (6, 5)), (rng.random((6, 1)) > 0.5).astype(np.float64)
    model = Sequential([Embedding(9, 3), Bidirectional(LSTM(4)), Dense(1, activation="sigmoid")], seed=3)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    report = model.probe(x, y)
    assert len(report.traces) == 2 and report.layer_names[0].startswith("bidirectional/")
    assert all(layer.traces() == [] for layer in model.layers)
    before = model.get_weights()
    model.train_on_batch(x, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
