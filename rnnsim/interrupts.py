"""Ctrl-C in the `rnnsim` program: one line and exit status 130 wherever it lands, never a traceback.

- While the program's modules load (`guard_start_up`): nothing is done yet, so it leaves at once.
- Inside a command (`end_start_up`): a KeyboardInterrupt, which rnnsim.cli turns into one line, and a
  note that Ctrl-C was pressed (`pressed`): whatever error follows it (numpy turns an interrupt inside
  its C import into an ImportError) is the interrupt's. Where Python cannot raise it (a callback of the
  import system: "Exception ignored ...") nothing is printed, and the train command stops before
  training all the same (`stop_if_pressed`).
- While training: rnnsim.train_loop.CtrlC (the first stops after the current batch).
- At the end (`leave`): the exit status is the command's, whatever CPython thinks of an interrupt it
  saw raised inside exec() during an import.

This module imports nothing of rnnsim and nothing slow: rnnsim.cli imports it first.
"""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
MESSAGE = "rnnsim: interrupted by Ctrl-C"

_pressed: list[bool] = []  # Ctrl-C was pressed inside the command (even where its exception was lost)


def _leave_while_starting(signum, frame):
    sys.stderr.write(MESSAGE + "\n")
    os._exit(EXIT_INTERRUPTED)


def _note_and_interrupt(signum, frame):
    _pressed.append(True)
    raise KeyboardInterrupt


def guard_start_up() -> None:
    """Until `end_start_up`, Ctrl-C leaves at once with one line (only where Python's default handler is set)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _leave_while_starting)


def end_start_up(program: bool) -> None:
    """From here on Ctrl-C raises KeyboardInterrupt; in the program (not a call from Python, whose handlers
    are left alone) it is also noted, and one that Python cannot raise is not printed."""
    if program:
        signal.signal(signal.SIGINT, _note_and_interrupt)
        sys.unraisablehook = _quiet_about_ctrl_c
    elif signal.getsignal(signal.SIGINT) is _leave_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _quiet_about_ctrl_c(unraisable, previous=sys.unraisablehook):
    """sys.unraisablehook: a KeyboardInterrupt raised where Python cannot raise it prints nothing (it is noted)."""
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        previous(unraisable)


def pressed() -> bool:
    """Was Ctrl-C pressed during this program's command?"""
    return bool(_pressed)


def stop_if_pressed() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed (its own exception may have been lost)."""
    if _pressed:
        raise KeyboardInterrupt


def leave(status: int) -> None:
    """End the program with `status`; a Ctrl-C from now on is ignored.

    After an interrupt, CPython may still end the process by SIGINT at exit (a KeyboardInterrupt that
    landed inside exec(), as dataclasses use while a module imports, counts as unhandled though it was
    caught), so then the streams are flushed and the process leaves at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if status == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
