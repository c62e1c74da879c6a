"""Error messages stay short: a few hundred characters, a handful of items, inputs quoted briefly."""

from __future__ import annotations

import pytest

from engine import Engine, Impair
from lens.decode import decode_heads
from lens.train import train_lenses
from memory.sweep import SweepSpec, resolve_grid
from cli.run import brief

LIMIT = 300


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def _message(fn) -> str:
    with pytest.raises(Exception) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("case", ["huge impair, inf intensity", "huge impair, bad layer", "repeated scales",
                                  "many bad layers", "many bad positions", "long mode name"])
def test_user_errors_are_short_and_list_a_handful(eng, case):
    units = tuple(range(128))
    make = {
        "huge impair, inf intensity": lambda: eng.run("hello", [Impair(0, units, intensity=float("inf"))]),
        "huge impair, bad layer": lambda: eng.run("hello", [Impair(99, units)]),
        "repeated scales": lambda: resolve_grid(eng, SweepSpec(layers=(0,), scales=(1.0,) * 5000)),
        "many bad layers": lambda: train_lenses(eng, ["a b"], "unused", layers=list(range(3, 5000)), steps=1),
        "many bad positions": lambda: decode_heads(eng, None, "hello", positions=list(range(50, 5000))),
        "long mode name": lambda: eng.run("hello", [Impair(0, (1,), mode="x" * 5000)]),
    }[case]
    message = _message(make)
    assert len(message) <= LIMIT, message
    assert message.count(",") <= 12, message


def test_brief_keeps_the_fix_at_the_end_of_a_long_message():
    long = "cannot read " + "x" * 2000 + "; write start:stop:step"
    short = brief(long)
    assert len(short) <= 300 and short.startswith("cannot read") and short.endswith("write start:stop:step")
    assert brief("two\nlines") == "two lines"
