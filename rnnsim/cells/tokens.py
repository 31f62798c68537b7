"""`rnnsim.cells.tokens` is `rnnsim.cells.embedding_lookup` (the old name, kept for code written before)."""

import sys

from rnnsim.cells import embedding_lookup as _module

sys.modules[__name__] = _module
