"""The tutorial's experiments at small scale: real data, a few hundred samples, a clear margin.

The full runs, with their commands and numbers, are in docs/RESULTS.md; these keep them honest in
every test run. Seeds are fixed, so the numbers are reproducible on one machine; the margins
leave room for the last bits of float32 rounding to differ elsewhere.
"""

import numpy as np

from rnnsim.experiment import RunConfig, build_model, load_task


def _train(config):
    task = load_task(config)
    model = build_model(task, config)
    history = model.fit(task.x_train, task.y_train, batch_size=config.batch_size, epochs=config.epochs,
                        validation_data=(task.x_val, task.y_val), verbose=0)
    return task, history.history


def test_lstm_reads_imdb_reviews_better_than_the_majority_guess(need_data):
    need_data("imdb/aclImdb_v1_labelled.tar.xz", "imdb/imdb_word_index.json")
    config = RunConfig(cell="lstm", dataset="imdb", units=16, embedding_dim=16, seq_len=200, samples=800,
                       batch_size=32, epochs=4, seed=0)
    task, history = _train(config)
    assert task.baseline["value"] < 0.6
    assert history["val_accuracy"][-1] > task.baseline["value"] + 0.08  # measured: 0.67 against 0.555


def test_gru_forecasts_beijing_temperature_near_the_common_sense_baseline(need_data):
    need_data("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv")
    config = RunConfig(cell="gru", dataset="beijing", units=16, samples=2000, batch_size=64, epochs=5, seed=0)
    task, history = _train(config)
    mean_predictor = float(np.mean(np.abs(task.y_val - task.y_train.mean())))  # ~0.90 normalised
    val_mae = history["val_mae"][-1]  # measured: 0.212; common sense 0.201
    assert val_mae < mean_predictor / 3
    assert val_mae < 1.1 * task.baseline["value"]
