"""rnnsim and Keras 3 side by side: the same functional models, the same weights, the same data.

The models are written once, against the Keras API, and built with either library:

    python docs/keras_side_by_side.py rnnsim /tmp/side.npz          # rnnsim: weights, data, results
    KERAS_BACKEND=torch /tmp/kvenv/bin/python docs/keras_side_by_side.py keras /tmp/side.npz

The first run writes rnnsim's weights, inputs and results; the second loads the same weights into
Keras 3 and prints the largest difference for each check. Keras goes in a separate venv, never in
rnnsim's: python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install torch==2.13.0 keras
"""

from __future__ import annotations

import sys

import numpy as np


def build(keras):
    """The checks' models, by name, built with `keras` (rnnsim or Keras 3)."""
    layers = keras.layers
    models = {}
    tokens = keras.Input((None,), dtype="int64")  # Bidirectional over a masked sequence
    embedded = layers.Embedding(9, 3, mask_zero=True)(tokens)
    models["bidirectional_masked"] = keras.Model(tokens, layers.Bidirectional(
        layers.LSTM(5, return_sequences=True))(embedded))
    series = keras.Input((6, 2))  # Bidirectional with return_state
    models["bidirectional_states"] = keras.Model(series, layers.Bidirectional(
        layers.GRU(4, return_state=True), merge_mode="sum")(series))
    question, answer = keras.Input((None, 4)), keras.Input((None, 6))  # the encoder's states start the decoder
    _, state_h, state_c = layers.LSTM(7, return_state=True)(question)
    decoded = layers.LSTM(7, return_sequences=True)(answer, initial_state=[state_h, state_c])
    models["encoder_decoder"] = keras.Model([question, answer], layers.Dense(6, activation="softmax")(decoded))
    labels = keras.Input((5, 3))  # a multi-label sigmoid output, binary cross-entropy, metrics=['acc']
    models["multi_label"] = keras.Model(labels, layers.Dense(4, activation="sigmoid")(layers.SimpleRNN(6)(labels)))
    first, second = keras.Input((4, 2)), keras.Input((4, 2))  # branches joined
    lstm, gru = layers.LSTM(3)(first), layers.GRU(3)(second)
    joined = layers.Concatenate()([lstm, gru, layers.Add()([lstm, gru])])
    models["branches"] = keras.Model([first, second], layers.Dense(1)(joined))
    return models


def data():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 9, (4, 7))
    ids[0, 5:], ids[1, 2:], ids[2, :3] = 0, 0, 0  # padding at the end, and in front
    return {
        "bidirectional_masked": ids,
        "bidirectional_states": rng.random((3, 6, 2)).astype("float32"),
        "encoder_decoder": [rng.random((8, 5, 4)).astype("float32"), rng.random((8, 3, 6)).astype("float32")],
        "encoder_decoder_y": rng.integers(0, 6, (8, 3)),
        "multi_label": rng.random((16, 5, 3)).astype("float32"),
        "multi_label_y": (rng.random((16, 4)) > 0.5).astype("float32"),
        "branches": [rng.random((5, 4, 2)).astype("float32"), rng.random((5, 4, 2)).astype("float32")],
    }


def run(keras, weights=None):
    """Each check's results (and the weights used), with `weights` loaded when given."""
    models, inputs, results = build(keras), data(), {}
    for name, model in models.items():
        if weights is not None:
            model.set_weights(weights[name])
        results[f"{name}/weights"] = [np.asarray(w) for w in model.get_weights()]
    for name in ("bidirectional_masked", "bidirectional_states", "branches"):
        output = models[name].predict(inputs[name], verbose=0)
        several = isinstance(output, (list, tuple))  # Keras 3 hands several outputs back as a tuple
        results[name] = [np.asarray(o) for o in output] if several else [np.asarray(output)]
    model = models["encoder_decoder"]
    model.compile(keras.optimizers.SGD(learning_rate=0.5), "sparse_categorical_crossentropy", metrics=["acc"])
    results["encoder_decoder"] = [model.predict(inputs["encoder_decoder"], verbose=0)]
    results["encoder_decoder/train_on_batch"] = [np.asarray(
        model.train_on_batch(inputs["encoder_decoder"], inputs["encoder_decoder_y"]), dtype=np.float64)]
    results["encoder_decoder/after_one_step"] = [np.asarray(w) for w in model.get_weights()]
    model = models["multi_label"]
    model.compile("sgd", "binary_crossentropy", metrics=["acc"])
    results["multi_label/evaluate"] = [np.asarray(model.evaluate(
        inputs["multi_label"], inputs["multi_label_y"], batch_size=16, verbose=0), dtype=np.float64)]
    return results


def main(argv) -> int:
    if len(argv) != 3 or argv[1] not in ("rnnsim", "keras"):
        print(__doc__)
        return 2
    path = argv[2]
    if argv[1] == "rnnsim":
        import rnnsim

        rnnsim.utils.set_random_seed(0)
        results = run(rnnsim)
        np.savez(path, **{f"{key}#{k}": array for key, arrays in results.items() for k, array in enumerate(arrays)})
        print(f"wrote {path}")
        return 0
    import keras

    saved = dict(np.load(path, allow_pickle=False))
    ours: dict[str, list] = {}
    for key in sorted(saved, key=lambda key: (key.split("#")[0], int(key.split("#")[1]))):
        ours.setdefault(key.split("#")[0], []).append(saved[key])
    weights = {key.split("/")[0]: arrays for key, arrays in ours.items() if key.endswith("/weights")}
    theirs = run(keras, weights)
    for key, arrays in ours.items():
        if key.endswith("/weights"):
            continue
        difference = max(float(np.max(np.abs(a - b))) for a, b in zip(arrays, theirs[key]))
        print(f"{key:36s} largest |rnnsim - Keras|: {difference:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
