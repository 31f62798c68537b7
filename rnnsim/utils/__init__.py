"""Keras's `keras.utils` for rnnsim: the dataset utilities (backed by NumPy) and `set_random_seed`.

    timeseries_dataset_from_array   sliding windows over a series, with targets (utils/timeseries.py)
    text_dataset_from_directory     labelled texts from class sub-folders or an archive (utils/text.py)
    Dataset                         what both return: finite, re-iterable batches with len() (utils/dataset.py)
    set_random_seed                 one seed for every generator rnnsim draws from (utils/random.py)

`model.fit(dataset, epochs=..., validation_data=other_dataset)` takes them as they are.
"""

from rnnsim.utils.dataset import Dataset
from rnnsim.utils.random import set_random_seed
from rnnsim.utils.text import text_dataset_from_directory
from rnnsim.utils.timeseries import timeseries_dataset_from_array

__all__ = ["Dataset", "set_random_seed", "text_dataset_from_directory", "timeseries_dataset_from_array"]
