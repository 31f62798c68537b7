"""Data sets and tasks for rnnsim.

    from rnnsim.datasets import imdb, load_task
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    task = load_task("adding")                       # synthetic: no files needed
    data = addition.addition_problem(8000, digits=2) # '12+34' -> '46' as token ids, for an encoder-decoder

Real data are read from the data folder (`data_dir()`: a `path=` argument, else RNNSIM_DATA, else
~/.cache/rnnsim/datasets) in the layout imdb/, beijing_pm25/, jena/, japanese_vowels/,
sentiment_labelled_sentences/, vega_seattle_weather/. `registry` names each set's files, download
address, checksum and licence; `list_datasets()` and `render_table()` show what is present.
"""

from rnnsim.datasets import addition, beijing, imdb, jena, registry, sentiment, synthetic, timeseries, vowels
from rnnsim.datasets.paths import cache_dir, data_dir
from rnnsim.datasets.registry import list_datasets, render_table, verify
from rnnsim.datasets.synthetic import adding_problem, copy_memory, noisy_sine
from rnnsim.datasets.tasks import TASK_NAMES, Task, load_task
from rnnsim.datasets.timeseries import generator, load_csv_series, make_windows, normalize

__all__ = [
    "TASK_NAMES", "Task", "adding_problem", "addition", "beijing", "cache_dir", "copy_memory", "data_dir", "generator",
    "imdb", "jena", "list_datasets", "load_csv_series", "load_task", "make_windows", "noisy_sine",
    "normalize", "registry", "render_table", "sentiment", "synthetic", "timeseries", "verify", "vowels",
]
