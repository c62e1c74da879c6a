"""Argument types that check a flag's value before any work, and a parser whose errors are one line.

A bad value ends the command with exit status 2 and one line on stderr that names
the flag and says what it takes, e.g. ``error: argument --steps: a whole number
from 1 to 1000000, e.g. 400; got '-3'``. Checks that need the model (a layer it
has, a rank below its width) are made by the core right after loading it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from engine.errors import LensLabError

# No flag of a list or range may name more items than this (checked before building it).
MAX_ITEMS = 10_000
# --threads of every sweep: one thread was measured fastest (see docs/sweeps.md).
THREADS_HELP = ("torch CPU threads (default 1: a small cluster sweep on 2 busy cores took 49 s with 1 thread, "
                "286 s with torch's own choice, 0); a sweep's identity records it, as it moves the last digits")


class UsageError(LensLabError):
    """A flag is missing or has a bad value; the message names it."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise :class:`UsageError` (see :func:`parse`), not print a usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The parsed flags, or None after printing the usage error as one line on stderr (exit with status 2)."""
    from cli.model import remember_loading
    from cli.run import brief

    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        print(f"error: {brief(err)}", file=sys.stderr)
        return None
    remember_loading(args)
    return args


def _bad(what: str, text: str) -> argparse.ArgumentTypeError:
    shown = text if len(text) <= 40 else text[:40] + "…"
    return argparse.ArgumentTypeError(f"{what}; got {shown!r}")


def whole(lo: int, hi: int, example: int) -> Callable[[str], int]:
    """A whole number in ``[lo, hi]``."""
    what = f"a whole number from {lo} to {hi}, e.g. {example}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _bad(what, text) from None
        if not lo <= value <= hi:
            raise _bad(what, text)
        return value

    parse.__name__ = "whole number"
    return parse


def finite(lo: float, hi: float, example: float) -> Callable[[str], float]:
    """A finite number in ``[lo, hi]`` (never NaN or inf)."""
    what = f"a number from {lo:g} to {hi:g}, e.g. {example:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise _bad(what, text) from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise _bad(what, text)
        return value

    parse.__name__ = "number"
    return parse


def positive(hi: float, example: float) -> Callable[[str], float]:
    """A finite number in ``(0, hi]``."""
    what = f"a number above 0 and at most {hi:g}, e.g. {example:g}"
    inner = finite(0.0, hi, example)

    def parse(text: str) -> float:
        try:
            value = inner(text)
        except argparse.ArgumentTypeError:
            raise _bad(what, text) from None
        if value <= 0:
            raise _bad(what, text)
        return value

    parse.__name__ = "number"
    return parse


def whole_list(lo: int, hi: int, example: str) -> Callable[[str], tuple[int, ...]]:
    """Comma-separated whole numbers in ``[lo, hi]``, at most :data:`MAX_ITEMS` of them."""
    what = f"comma-separated whole numbers from {lo} to {hi}, e.g. {example}"
    one = whole(lo, hi, lo)

    def parse(text: str) -> tuple[int, ...]:
        parts = [p for p in text.split(",") if p.strip()]
        if not parts or len(parts) > MAX_ITEMS:
            raise _bad(what + f" (1 to {MAX_ITEMS} of them)", text)
        try:
            return tuple(one(p.strip()) for p in parts)
        except argparse.ArgumentTypeError:
            raise _bad(what, text) from None

    parse.__name__ = "list"
    return parse


def read_range(text: str, kind: type = float, step_required: bool = False) -> tuple:
    """``start:stop[:step]`` (stop included, step 1 when left out unless ``step_required``) or a comma list,
    as a tuple of ``kind``; the one reader of every range flag (e.g. ``1:15:4`` is 1, 5, 9, 13).

    Finite values only, at most :data:`MAX_ITEMS` of them, counted before any is built;
    :class:`UsageError` (saying how to write one) otherwise.
    """
    how = "write start:stop:step (stop included, e.g. 1:15:4) or a list like 1,2,4"
    try:
        if ":" in text:
            values = _stepped(text, step_required)
        else:
            parts = [p for p in text.split(",") if p.strip()]
            if len(parts) > MAX_ITEMS:
                raise UsageError(f"{text[:40]!r}… names {len(parts)} values; at most {MAX_ITEMS}")
            values = tuple(float(p) for p in parts)
        if not values or not all(math.isfinite(v) for v in values):
            raise ValueError
        if kind is int and any(v != int(v) for v in values):
            raise ValueError
    except (ValueError, OverflowError):
        raise UsageError(f"cannot read {text[:40]!r}; {how}") from None
    return tuple(kind(round(v, 9)) for v in values)


def _stepped(text: str, step_required: bool) -> tuple[float, ...]:
    """The values of ``start:stop[:step]``: start + i * step up to stop (a hair of float error included)."""
    parts = [float(p) for p in text.split(":")]
    if len(parts) not in ((3,) if step_required else (2, 3)) or not all(math.isfinite(p) for p in parts):
        raise ValueError
    start, stop, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1.0
    if step <= 0 or stop < start:
        raise ValueError
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > MAX_ITEMS:
        raise UsageError(f"{text[:40]!r} names {n} values; at most {MAX_ITEMS}: use a larger step")
    return tuple(start + i * step for i in range(n))


def out_folder(text: str) -> Path:
    """An output folder that exists and is writable, or can be created: checked before any work.

    Checked by making (and removing) a folder in the nearest existing one, since permission bits
    do not tell (root passes every check on /proc, where nothing can be made); nothing is left behind.
    """
    path = Path(text).expanduser()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{probe} is a file, not a folder; choose another folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".lenslab-probe-", dir=probe))
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot write to {probe} ({err.strerror}); choose another folder") from None
    return path
