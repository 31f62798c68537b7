"""The one exception type for mistakes a user can make.

`InputError` is a `ValueError`, so code that expects Keras-style `ValueError`s keeps
working, while the command line can tell a user's mistake (one clear line, exit status 2)
from an internal bug (which is allowed to raise with a traceback).
"""


class InputError(ValueError):
    """Bad input from a user: a shape, a name, a file, a value. The message says what to do."""
