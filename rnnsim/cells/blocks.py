"""`rnnsim.cells.blocks` is `rnnsim.cells.kernel_parts` (the old name, kept for code written before)."""

import sys

from rnnsim.cells import kernel_parts as _module

sys.modules[__name__] = _module
