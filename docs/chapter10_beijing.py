"""Chapter 10's baselines and recurrent models on the Beijing stand-in for Jena (the numbers in docs/RESULTS.md).

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 RNNSIM_DATA=../shared/datasets python docs/chapter10_beijing.py

The book's protocol (second edition, chapter 10) with the book's models, on the hourly Beijing weather:
the first 50% of the rows train, the next 25% validate, the rest test; every column is normalised by the
training rows; a sample is 120 hourly steps (5 days) of the 7 weather columns and its target is the
temperature 24 hours after the sample's last hour (Jena's sampling_rate=6 turns its 10-minute rows into
hours; these rows are hourly already); batches of 256; RMSprop, MSE loss, MAE metric, 10 epochs, the
epoch with the best validation loss kept (ModelCheckpoint save_best_only). MAE in degrees C.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import rnnsim as keras
from rnnsim import layers
from rnnsim.datasets import beijing

MODELS = ("dense", "conv", "lstm", "gru")


def build(name, sequence_length, features):
    shape = (sequence_length, features)
    stacks = {
        "dense": [layers.Flatten(input_shape=shape), layers.Dense(16, activation="relu"), layers.Dense(1)],
        "conv": [layers.Conv1D(8, 24, activation="relu", input_shape=shape), layers.MaxPooling1D(2),
                 layers.Conv1D(8, 12, activation="relu"), layers.MaxPooling1D(2),
                 layers.Conv1D(8, 6, activation="relu"), layers.GlobalAveragePooling1D(), layers.Dense(1)],
        "lstm": [layers.LSTM(16, input_shape=shape), layers.Dense(1)],
        "gru": [layers.GRU(32, input_shape=shape), layers.Dense(1)],
    }
    return keras.models.Sequential(stacks[name])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    table = beijing.load_beijing()
    raw_data = table.values.copy()  # (43,824, 7) DEWP, TEMP, PRES, Iws, Is, Ir, pm2.5
    temperature = raw_data[:, table.columns.index("TEMP")].copy()
    num_train_samples = int(0.5 * len(raw_data))
    num_val_samples = int(0.25 * len(raw_data))
    mean = raw_data[:num_train_samples].mean(axis=0)
    raw_data -= mean
    std = raw_data[:num_train_samples].std(axis=0)
    raw_data /= std

    sampling_rate = 1
    sequence_length = 120
    delay = sampling_rate * (sequence_length + 24 - 1)
    batch_size = 256
    keras.set_seed(args.seed)

    def dataset(start_index, end_index=None, seed=0):
        return keras.utils.timeseries_dataset_from_array(
            raw_data[:-delay], targets=temperature[delay:], sampling_rate=sampling_rate,
            sequence_length=sequence_length, shuffle=True, seed=args.seed + seed, batch_size=batch_size,
            start_index=start_index, end_index=end_index)

    train_dataset = dataset(0, num_train_samples)
    val_dataset = dataset(num_train_samples, num_train_samples + num_val_samples, 1)
    test_dataset = dataset(num_train_samples + num_val_samples, None, 2)

    def evaluate_naive_method(data):
        total_abs_err, samples_seen = 0.0, 0
        for samples, targets in data:
            preds = samples[:, -1, 1] * std[1] + mean[1]
            total_abs_err += np.sum(np.abs(preds - targets))
            samples_seen += samples.shape[0]
        return total_abs_err / samples_seen

    results = {"naive": {"val_mae": evaluate_naive_method(val_dataset), "test_mae": evaluate_naive_method(test_dataset),
                         "params": 0, "seconds": 0.0}}
    print(f"temperature std over the training rows: {std[1]:.3f} C; {len(train_dataset)} training batches")
    print(f"naive: val MAE {results['naive']['val_mae']:.3f} C, test MAE {results['naive']['test_mae']:.3f} C")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            model = build(name, sequence_length, raw_data.shape[-1])
            model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
            checkpoint = str(Path(folder) / f"jena_{name}.keras")
            started = time.perf_counter()
            history = model.fit(train_dataset, epochs=args.epochs, validation_data=val_dataset, verbose=0,
                                callbacks=[keras.callbacks.ModelCheckpoint(checkpoint, save_best_only=True)])
            seconds = time.perf_counter() - started
            best = keras.models.load_model(checkpoint)
            epoch = int(np.argmin(history.history["val_loss"]))
            results[name] = {"val_mae": history.history["val_mae"][epoch], "best_epoch": epoch + 1,
                             "last_val_mae": history.history["val_mae"][-1],
                             "train_mae": history.history["mae"][epoch],
                             "test_mae": best.evaluate(test_dataset)[1], "params": model.count_params(),
                             "seconds": seconds}
            row = results[name]
            print(f"{name}: {row['params']:,} params, best val MAE {row['val_mae']:.3f} C (epoch {row['best_epoch']}; "
                  f"{row['last_val_mae']:.3f} after {args.epochs}), training MAE {row['train_mae']:.3f}, "
                  f"test MAE {row['test_mae']:.3f} C, {seconds:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"temperature_std": float(std[1]), **results}, indent=1))


if __name__ == "__main__":
    main()
