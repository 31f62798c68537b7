"""`rnnsim.threads` is `rnnsim.cells.threads`: the old name, kept for code written before the move.

The module object is the same one (not a copy of its names), so its state is shared.
"""

import sys

import rnnsim.cells.threads as _module

sys.modules[__name__] = _module
