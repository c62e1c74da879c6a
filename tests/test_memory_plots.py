"""Memory figures are built from results alone and show what the results hold."""

from __future__ import annotations

import numpy as np
import pytest

from memory import (InjectionResult, InjectionSpec, LayerScaleSweep, MemorySpecError, SweepCase,
                    plot_injection_effect, plot_layer_scale_heatmap, plot_repair_scatter, plot_top_tokens)


def make_sweep() -> LayerScaleSweep:
    rng = np.random.default_rng(0)
    cases = tuple(SweepCase(f"{i}:{lab}", f"prompt {i}", " a", " m", lab) for i in range(3) for lab in ("bridge", "control"))
    p_before = rng.uniform(0.001, 0.1, size=len(cases))
    p_after = rng.uniform(0.001, 0.5, size=(len(cases), 4, 5))
    return LayerScaleSweep(cases, (0, 1, 2, 3), (1.0, 2.0, 3.0, 4.0, 5.0), p_before, p_after)


def test_heatmap_shows_median_gain_per_layer_and_scale():
    sweep = make_sweep()
    fig = plot_layer_scale_heatmap(sweep, label="bridge")
    heat = fig.data[0]
    bridge = sweep.select("bridge")
    np.testing.assert_allclose(np.asarray(heat.customdata), np.median(bridge.gain, axis=0))
    np.testing.assert_allclose(np.asarray(heat.z), np.clip(np.log2(np.median(bridge.gain, axis=0)), -4, 4))
    assert list(heat.y) == ["L0", "L1", "L2", "L3"] and len(heat.x) == 5
    assert "bridge" in fig.layout.title.text


def test_heatmap_colour_is_clipped_so_a_collapse_does_not_whiten_the_repairs():
    sweep = make_sweep()
    sweep.p_after[:, 0, :] = sweep.p_before[:, None] * 4e-5  # layer 0 collapses the answer
    sweep.p_after[:, 1, :] = sweep.p_before[:, None] * 4  # layer 1 repairs it x4
    heat = plot_layer_scale_heatmap(sweep).data[0]
    assert (heat.zmin, heat.zmax, heat.zmid) == (-4, 4, 0)
    z = np.asarray(heat.z)
    assert np.allclose(z[0], -4) and np.allclose(z[1], 2), "x4 sits half-way to the end colour, not near white"
    assert list(heat.colorbar.ticktext) == ["×0.06", "×0.12", "×0.25", "×0.5", "×1", "×2", "×4", "×8", "×16"]
    np.testing.assert_allclose(np.asarray(heat.customdata)[0], 4e-5)  # hover keeps the exact gain


def test_heatmap_of_probability_and_bad_options():
    sweep = make_sweep()
    heat = plot_layer_scale_heatmap(sweep, metric="p_after", statistic="mean").data[0]
    np.testing.assert_allclose(np.asarray(heat.z), sweep.p_after.mean(axis=0))
    with pytest.raises(MemorySpecError):
        plot_layer_scale_heatmap(sweep, metric="loss")  # type: ignore[arg-type]
    with pytest.raises(MemorySpecError, match="labels here"):
        plot_layer_scale_heatmap(sweep, label="nothing")


def result(p_before: float, p_after: float, memory: str = " Tovaren") -> InjectionResult:
    return InjectionResult("The founder of Zentrix was born in", " Marlow", " Marlow", InjectionSpec(memory, 2, 4.0),
                           (memory,), p_before, p_after, ((" the", 0.5), (" Marlow", p_before)),
                           ((" Marlow", p_after), (" the", 0.2)),
                           ((" the", 0.5, 0.2), (" Marlow", p_before, p_after)))


def test_injection_effect_bars_before_and_after():
    fig = plot_injection_effect([result(0.01, 0.2), result(0.01, 0.005, " Melisande")])
    before, after = fig.data
    assert list(before.y) == [0.01, 0.01] and list(after.y) == [0.2, 0.005]
    assert len(set(before.x)) == 2
    assert len(plot_injection_effect(result(0.1, 0.3)).data[0].y) == 1
    with pytest.raises(MemorySpecError):
        plot_injection_effect([])


def test_top_tokens_and_scatter():
    fig = plot_top_tokens(result(0.01, 0.2))
    before, after = fig.data
    assert list(before.y) == list(after.y)  # bars pair up token by token
    assert list(before.x) == [0.5, 0.01] and list(after.x) == [0.2, 0.2]
    sweep = make_sweep()
    scatter = plot_repair_scatter(sweep, 1, 3.0)
    bridge = next(t for t in scatter.data if t.name == "bridge")
    np.testing.assert_allclose(np.asarray(bridge.y), sweep.select("bridge").p_after[:, 1, 2])
    with pytest.raises(MemorySpecError, match="grid"):
        plot_repair_scatter(sweep, 7, 3.0)
