"""The one exception type for mistakes a user can make.

`InputError` is a `ValueError`, so code that expects Keras-style `ValueError`s keeps
working, while the command line can tell a user's mistake (one clear line, exit status 2)
from an internal bug (which is allowed to raise with a traceback).

A message that asks for a smaller or larger value names the setting in the Python API's
spelling (`seq_len`, `n_samples`) and says so in `InputError.option`; a front end that spells
the setting differently (the command line's `--seq-len`, `--samples`) rewrites that word with
`message_for`, so the loaders need not know any front end's names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class InputError(ValueError):
    """Bad input from a user: a shape, a name, a file, a value. The message says what to do.

    Args:
        message: one line: what is wrong and what to do.
        option: the argument the message asks to change, as the message writes it (e.g. 'seq_len').
            Default None: none.
    """

    def __init__(self, message: str = "", option: str | None = None):
        super().__init__(message)
        self.option = option


def message_for(error: BaseException, names: Mapping[str, str]) -> str:
    """The error's message with its option written as a front end names it.

    Args:
        error: usually an InputError; any exception's text is returned unchanged if it names no option.
        names: {API name: front-end name}, e.g. {'seq_len': '--seq-len', 'n_samples': '--samples'}.

    Returns:
        The message, with each whole-word occurrence of the error's option replaced,
        e.g. 'use a smaller seq_len (at most 142)' -> 'use a smaller --seq-len (at most 142)'.
    """
    message = str(error)
    option = getattr(error, "option", None)
    if option and option in names:
        # 'seq_len=240' keeps its '=' (--seq-len=240); a bare 'path=' (an argument's name) loses it.
        pattern = rf"(?<![\w-]){re.escape(option)}(?:=(?![\w'\"./-]))?(?!\w)"
        message = re.sub(pattern, names[option], message)
    return message
