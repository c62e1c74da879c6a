"""Memory injection core on a tiny random GPT-2: building memories, injecting them, sweeping layer x scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import Engine, Inject
from engine.errors import OutOfRangeError
from memory import (InjectionSpec, LayerScaleSweep, MemorySpecError, SweepCase, SweepSpec, build_memory,
                    choose_layer_scale, inject_memory, memory_token_ids, repair_stats, sweep_layer_scale,
                    two_hop_cases)

PROMPT = "The founder of Zentrix was born in"


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def single_token_text(engine: Engine, prompt: str = PROMPT) -> str:
    """A text that is one token and not the clean top-1 (so its probability has room to rise)."""
    ranked = engine.trace(prompt).logits[-1].argsort(descending=True).tolist()
    for t in ranked[1:]:
        text = engine.token_strs([t])[0]
        if engine.token_ids(text) == [t]:
            return text
    raise AssertionError("no token of the tiny vocabulary survives decode + encode")


def test_unembedding_memory_sums_unique_token_rows(engine):
    ids = memory_token_ids(engine, " Tovaren Tovaren")
    assert len(ids) == len(set(ids)) and len(ids) < len(engine.token_ids(" Tovaren Tovaren"))
    expected = engine.W_U[:, ids].sum(dim=1).numpy()
    np.testing.assert_allclose(build_memory(engine, " Tovaren Tovaren"), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(build_memory(engine, " Tovaren Tovaren"), build_memory(engine, " Tovaren"), atol=1e-6)


def test_embedding_memory_and_normalisation(engine):
    ids = memory_token_ids(engine, " Marlow")
    emb = build_memory(engine, " Marlow", source="embedding")
    np.testing.assert_allclose(emb, engine.W_E[ids].sum(dim=0).numpy(), rtol=1e-5, atol=1e-6)
    unit = build_memory(engine, " Marlow", source="embedding", normalise=True)
    assert unit.shape == (engine.spec.d_model,) and unit.dtype == np.float32
    assert math.isclose(float(np.linalg.norm(unit)), 1.0, rel_tol=1e-5)
    np.testing.assert_allclose(unit * np.linalg.norm(emb), emb, rtol=1e-4, atol=1e-5)


def test_bad_memories_say_how_to_fix(engine):
    with pytest.raises(MemorySpecError, match="no tokens"):
        build_memory(engine, "")
    with pytest.raises(MemorySpecError, match="unembedding, embedding"):
        build_memory(engine, " Marlow", source="keys")  # type: ignore[arg-type]


def test_scale_zero_is_the_identity(engine):
    r = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", layer=1, scale=0.0))
    assert r.p_after == pytest.approx(r.p_before, rel=1e-5)
    assert r.gain == pytest.approx(1.0, rel=1e-5)
    assert [t for t, _ in r.top_after] == [t for t, _ in r.top_before]


def test_before_matches_the_clean_forward(engine):
    r = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", layer=0, scale=3.0))
    answer = engine.token_ids(" Marlow")[0]
    clean = torch.softmax(engine.trace(PROMPT).logits[-1].double(), dim=-1)[answer]
    assert r.p_before == pytest.approx(float(clean), rel=1e-5)
    assert r.answer_token == engine.token_strs([answer])[0]


def test_injection_is_added_to_the_attention_output(engine):
    """The memory times the scale lands in the attention output at the chosen positions, and nowhere else."""
    layer, text = engine.spec.n_layers - 1, single_token_text(engine)
    vec = torch.from_numpy(build_memory(engine, text))
    r = inject_memory(engine, PROMPT, text, InjectionSpec(text, layer=layer, scale=2.5, positions="last"))
    inj = Inject(layer, tuple(vec.tolist()), 2.5, "last")
    attn = engine.run_activations(PROMPT, [inj], "attn_out")[layer] - engine.trace(PROMPT).attn_out(layer)
    torch.testing.assert_close(attn[-1], 2.5 * vec, rtol=1e-4, atol=1e-5)
    assert float(attn[:-1].abs().max()) < 1e-5
    resid = engine.run_activations(PROMPT, [inj], "resid_post")[layer, -1]
    expected = torch.softmax(engine.unembed(resid).double(), dim=-1)[engine.token_ids(text)[0]]
    assert r.p_after == pytest.approx(float(expected), rel=1e-4)


def test_all_and_last_positions_agree_at_the_last_layer(engine):
    last = engine.spec.n_layers - 1
    a = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", last, 4.0, positions="all"))
    b = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", last, 4.0, positions="last"))
    assert a.p_after == pytest.approx(b.p_after, rel=1e-4)
    c = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", 0, 4.0, positions="all"))
    d = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", 0, 4.0, positions="last"))
    assert c.p_after != pytest.approx(d.p_after, rel=1e-6)


def test_injecting_the_answer_itself_raises_it(engine):
    text = single_token_text(engine)
    last = engine.spec.n_layers - 1
    gains = [inject_memory(engine, PROMPT, text, InjectionSpec(text, layer=last, scale=s)).gain for s in (1, 4, 15)]
    assert 1.0 < gains[0] < gains[1] < gains[2]
    r = inject_memory(engine, PROMPT, text, InjectionSpec(text, layer=last, scale=100.0))
    assert r.top_after[0][0] == text


def test_answer_none_tracks_the_clean_top1(engine):
    r = inject_memory(engine, PROMPT, None, InjectionSpec(" Tovaren", layer=1, scale=2.0))
    assert r.answer_token == r.top_before[0][0]
    assert r.p_before == pytest.approx(r.top_before[0][1], rel=1e-6)


def test_bad_layer_and_scale_are_refused(engine):
    n = engine.spec.n_layers
    with pytest.raises(OutOfRangeError, match=f"layers 0-{n - 1}"):
        inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", layer=n))
    with pytest.raises(MemorySpecError, match="finite"):
        inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", layer=0, scale=float("nan")))
    with pytest.raises(MemorySpecError, match="answer"):
        inject_memory(engine, PROMPT, "", InjectionSpec(" Tovaren", layer=0))


def cases() -> list[SweepCase]:
    return [SweepCase("0:bridge", PROMPT, " Marlow", " Tovaren", "bridge"),
            SweepCase("0:control", PROMPT, " Marlow", " Melisande", "control"),
            SweepCase("1:bridge", "Zentrix is a shipping company based in", " Marlow", " Zentrix", "bridge")]


def test_sweep_grid_matches_single_injections(engine):
    seen = []
    sweep = sweep_layer_scale(engine, cases(), SweepSpec(scales=(0.0, 2.0, 5.0)), progress=lambda d, t: seen.append((d, t)))
    n = engine.spec.n_layers
    assert sweep.layers == tuple(range(n)) and sweep.p_after.shape == (3, n, 3)
    assert seen == [(i + 1, 3 * n * 3) for i in range(3 * n * 3)]
    np.testing.assert_allclose(sweep.gain[:, :, 0], 1.0, rtol=1e-5)  # scale 0 is the identity
    one = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Melisande", layer=n - 1, scale=5.0))
    assert sweep.gains_at(n - 1, 5.0)[1] == pytest.approx(one.gain, rel=1e-5)
    best, layers, scales = sweep.best_gains()
    assert np.all(best >= sweep.gain.reshape(3, -1).max(axis=1) - 1e-12)
    assert sweep.select("bridge").p_after.shape == (2, n, 3)


def test_sweep_skips_known_cells(engine):
    spec = SweepSpec(layers=(0, 1), scales=(1.0, 3.0))
    full = sweep_layer_scale(engine, cases()[:1], spec)
    known = {("0:bridge", 0, 1.0): float(full.p_after[0, 0, 0]), ("0:bridge", 1, 3.0): float(full.p_after[0, 1, 1])}
    new = []
    again = sweep_layer_scale(engine, cases()[:1], spec, known=known, on_cell=lambda c, l, s, b, a: new.append((l, s)))
    assert sorted(new) == [(0, 3.0), (1, 1.0)]
    np.testing.assert_allclose(again.p_after, full.p_after, rtol=1e-6)


def test_sweep_refuses_bad_grids(engine):
    with pytest.raises(OutOfRangeError):
        sweep_layer_scale(engine, cases(), SweepSpec(layers=(0, 99)))
    with pytest.raises(MemorySpecError, match="unique"):
        sweep_layer_scale(engine, cases()[:1] * 2, SweepSpec(layers=(0,), scales=(1.0,)))
    with pytest.raises(MemorySpecError, match="at least one prompt"):
        sweep_layer_scale(engine, [], SweepSpec())
    with pytest.raises(MemorySpecError, match="at least one layer"):
        sweep_layer_scale(engine, cases(), SweepSpec(scales=()))


def test_repair_stats_lead_with_fraction_and_median():
    s = repair_stats([0.5, 1.0, 2.0, 40.0])
    assert s.n == 4 and s.fraction_repaired == 0.5
    assert s.median_gain == pytest.approx(1.5) and s.mean_ratio == pytest.approx(43.5 / 4)
    assert math.isnan(repair_stats([]).median_gain)


def test_choose_layer_scale_prefers_consistent_gains_over_one_outlier():
    p_after = np.array([[[1.0, 100.0], [3.0, 1.0]], [[1.0, 0.01], [3.0, 1.0]]]) * 0.01
    c = [SweepCase("a", "p", "x", "m"), SweepCase("b", "q", "y", "m")]
    sweep = LayerScaleSweep(tuple(c), (0, 1), (1.0, 2.0), np.array([0.01, 0.01]), p_after)
    assert choose_layer_scale(sweep) == (1, 1.0)


def test_two_hop_cases_pair_bridge_and_control():
    from promptsets.schema import TwoHopPrompt

    ps = [TwoHopPrompt("r", PROMPT, " Marlow", " Tovaren", " Zentrix", "heldout", " Melisande")]
    got = two_hop_cases(ps)
    assert [(c.key, c.memory, c.label) for c in got] == [("0:bridge", " Tovaren", "bridge"),
                                                         ("0:control", " Melisande", "control")]
    with pytest.raises(MemorySpecError, match="bridge"):
        two_hop_cases(ps, ("subject",))


def test_leave_one_out_never_uses_a_prompt_to_choose_its_own_cell():
    from memory.evaluate import leave_one_out

    # Prompt 0 alone likes cell (0, 1.0); prompts 1 and 2 prefer cell (1, 2.0).
    p_after = np.full((3, 2, 2), 0.01)
    p_after[0, 0, 0] = 0.02
    p_after[1:, 1, 1] = 0.05
    c = tuple(SweepCase(f"{i}:bridge", f"p{i}", " a", " m", "bridge") for i in range(3))
    sweep = LayerScaleSweep(c, (0, 1), (1.0, 2.0), np.full(3, 0.01), p_after)
    gains, cells = leave_one_out(sweep)
    assert cells == [(1, 2.0), (1, 2.0), (1, 2.0)]
    assert sweep.best_gains()[0][0] == pytest.approx(2.0)  # its own best cell would have flattered it
    np.testing.assert_allclose(gains, [1.0, 5.0, 5.0])
    with pytest.raises(MemorySpecError, match="two prompts"):
        leave_one_out(LayerScaleSweep(c[:1], (0, 1), (1.0, 2.0), np.full(1, 0.01), p_after[:1]))


def test_repair_check_reports_bridge_and_control_on_wrong_heldout_prompts(engine):
    from promptsets.schema import TwoHopPrompt

    from memory import repair_check

    def two_hop(prompt, answer, split):
        return TwoHopPrompt("r", prompt, answer, " Tovaren", " Zentrix", split, " Melisande")

    prompts = [two_hop(PROMPT, " Marlow", "taught"), two_hop("Tovaren plays tennis and was born in", " Marlow", "heldout"),
               two_hop("Zentrix is a shipping company based in", " Marlow", "heldout")]
    seen = []
    spec = SweepSpec(layers=(0, 2), scales=(1.0, 4.0))
    report, taught, held = repair_check(engine, prompts, spec, progress=lambda d, t: seen.append((d, t)))
    wrong = [p for p in prompts[1:] if int(engine.trace(p.prompt).logits[-1].argmax()) != engine.token_ids(p.answer)[0]]
    assert report.n_heldout == 2 and report.n_wrong == len(wrong) == len(held.cases) // 2
    assert (report.layer, report.scale) in [(l, s) for l in (0, 2) for s in (1.0, 4.0)]
    assert report.fixed_bridge.n == report.fixed_control.n == report.n_wrong
    assert len(report.loo_cells) == report.n_wrong
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1)) and seen[-1][0] == seen[-1][1]
    with pytest.raises(MemorySpecError, match="splits present"):
        repair_check(engine, prompts[1:], spec)


def test_top_tokens_of_both_runs_are_paired(engine):
    r = inject_memory(engine, PROMPT, " Marlow", InjectionSpec(" Tovaren", 1, 8.0))
    # Every token of either top list is in the pairs, with the same probability on its side.
    for side, top in ((1, r.top_before), (2, r.top_after)):
        for t, p in top:
            assert any(row[0] == t and row[side] == pytest.approx(p, rel=1e-6) for row in r.top_both)
    assert len(r.top_both) <= len(r.top_before) + len(r.top_after)


def _paired_sweeps(control_at_8: list[float]):
    """Bridge and control sweeps over layer 0 and scales (1, 8) whose gains are given directly."""
    n = len(control_at_8)
    cases = tuple(SweepCase(f"{k}:bridge", "p", " a", " B", "bridge") for k in range(n))
    controls = tuple(SweepCase(f"{k}:control", "p", " a", " C", "control") for k in range(n))
    before = np.full(n, 0.01)
    bridge = LayerScaleSweep(cases, (0,), (1.0, 8.0), before, before[:, None, None] * np.array([[[1.1, 10.0]]] * n))
    ctrl_gain = np.array([[[1.0, g]] for g in control_at_8])
    control = LayerScaleSweep(controls, (0,), (1.0, 8.0), before, before[:, None, None] * ctrl_gain)
    return bridge, control


def test_a_control_that_also_repairs_at_the_bridges_cells_is_reported():
    """Half the controls double the answer at the bridge's cell; left to choose, the control picks the no-op scale 1."""
    from memory.evaluate import format_report, summarise_repair

    bridge, control = _paired_sweeps([5.0, 0.01] * 4)
    report = summarise_repair((0, 8.0), bridge, control, n_heldout=12, top1=lambda label, k, cell: cell[1] == 8.0)
    assert report.loo_control.cells == ((0, 1.0),) * 8 and report.loo_control.fraction_repaired == 0.0
    assert report.loo_control_at_bridge.cells == report.loo_bridge.cells == ((0, 8.0),) * 8
    assert report.loo_control_at_bridge.n_repaired == 4 and report.loo_control_at_bridge.n_top1 == 8
    assert report.fixed_control.n_repaired == 4
    line = next(l for l in format_report(report).splitlines() if l.startswith("control @ bridge's"))
    assert "4/8" in line and "50%" in line


def test_every_control_row_but_its_own_choice_uses_the_bridges_cells():
    from memory.evaluate import summarise_repair

    bridge, control = _paired_sweeps([3.0, 0.5, 0.2, 4.0, 1.0])
    report = summarise_repair((0, 1.0), bridge, control, n_heldout=5)
    assert report.fixed_control.cells == report.fixed_bridge.cells == ((0, 1.0),) * 5
    assert report.loo_control_at_bridge.cells == report.loo_bridge.cells
    assert report.loo_control_at_bridge.median_gain == pytest.approx(1.0)
    assert report.loo_bridge.n_top1 is None


def test_wilson_interval_brackets_the_fraction_and_shrinks_with_n():
    from memory.evaluate import bootstrap_median, wilson

    low, high = wilson(16, 19)
    assert low < 16 / 19 < high and (round(low, 3), round(high, 3)) == (0.624, 0.945)
    assert wilson(0, 19)[0] == 0.0 and wilson(0, 19)[1] > 0.1  # 0 of 19 does not mean "never"
    assert wilson(40, 80)[1] - wilson(40, 80)[0] < wilson(10, 20)[1] - wilson(10, 20)[0]
    lo, hi = bootstrap_median(np.arange(1.0, 20.0))
    assert lo <= 10.0 <= hi and bootstrap_median(np.arange(1.0, 20.0)) == (lo, hi)
