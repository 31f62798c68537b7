"""docs/tutorial.ipynb runs from top to bottom (nbclient, a real kernel), at small sizes, without an error.

The notebook reads RNNSIM_TUTORIAL_SMALL=1 and trains on a few hundred samples for one epoch: the same
calls as with the book's sizes, in seconds. Every figure cell must show exactly one picture per figure.
"""

import base64
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_tutorial_notebook_runs_without_error_and_shows_its_pictures(need_data, monkeypatch):
    need_data("imdb/aclImdb_v1_labelled.tar.xz", "imdb/imdb_word_index.json",
              "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv")
    monkeypatch.setenv("RNNSIM_TUTORIAL_SMALL", "1")  # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "the notebook is committed without outputs"
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    pictures = [base64.b64decode(output["data"]["image/png"]) for output in outputs
                if "image/png" in output.get("data", {})]
    # The book's two plots, the LSTM's and the GRU's history, the gates, two gradient comparisons, the
    # per-step gain and the three cells' input connectivity: nine figures, each shown once.
    assert len(pictures) == 9
    assert all(picture.startswith(PNG) and len(picture) > 10_000 for picture in pictures)
    printed = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "512 train sequences" in printed and "common-sense baseline" in printed
