"""Live panels share built figures across sessions: one build per key, bounded, never another key's figure."""

from __future__ import annotations

import plotly.graph_objects as go

from ui import shell


def test_a_key_seen_before_builds_nothing_and_gets_the_same_figure():
    built = []

    def build(y: float):
        built.append(y)
        return go.Figure(go.Bar(y=[y]))

    first = shell.shared_figure(("test-same", 1.0), lambda: build(1.0))
    again = shell.shared_figure(("test-same", 1.0), lambda: build(1.0))
    other = shell.shared_figure(("test-same", 2.0), lambda: build(2.0))
    assert again is first and built == [1.0, 2.0]
    assert list(other.data[0].y) == [2.0] and list(first.data[0].y) == [1.0]


def test_the_store_keeps_at_most_its_bound_and_drops_the_least_recently_used():
    keys = [("test-bound", i) for i in range(shell.FIGURES_KEPT + 5)]
    for k in keys:
        shell.shared_figure(k, go.Figure)
        shell.shared_figure(keys[0], go.Figure)  # used again and again: never the least recent
    _, store = shell._figure_store()
    assert len(store) == shell.FIGURES_KEPT
    assert keys[0] in store and keys[1] not in store and keys[-1] in store
