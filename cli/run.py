"""Run a command: user errors print one line (exit 2), Ctrl-C prints one line (exit 130)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

INTERRUPTED = 130
# Messages are cut to this length: a message is read, not scrolled.
MAX_MESSAGE = 300


def brief(message: object, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line and at most ``limit`` characters (cut in the middle, so the fix at the end stays)."""
    text = " ".join(str(message).split())
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return text[:head] + " … " + text[len(text) - (limit - head - 3):]


def user_errors() -> tuple[type[BaseException], ...]:
    """Every error type a user's input can cause: LensLab's own, plus files the user named (OSError).

    A bare ValueError is not among them: the core raises its own types for bad input, so any
    other ValueError is a bug and keeps its traceback."""
    from engine.errors import LensLabError

    return LensLabError, OSError


def run_command(command: Callable[[argparse.Namespace], object], args: argparse.Namespace,
                resumable: bool = False) -> int:
    """``command(args)`` as a process exit status: 0 (or the int the command returns, such as 1 for a failed
    check), 2 after a user error, 130 after Ctrl-C."""
    try:
        status = command(args)
    except KeyboardInterrupt:
        again = "; run the same command again to resume where it stopped" if resumable else ""
        print(f"interrupted{again}", file=sys.stderr)
        return INTERRUPTED
    except user_errors() as err:
        print(f"error: {brief(err)}", file=sys.stderr)
        return 2
    return status if isinstance(status, int) else 0
