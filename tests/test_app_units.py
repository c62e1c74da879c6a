"""The app's plain-Python helpers: the live chart's numbers, unit lists, prompt sets, command lines."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cluster.errors import ClusterError
from cluster.impair import summarise_run
from cluster.plots import plot_next_token_probs
from cluster.units import parse_units
from engine.errors import NonFiniteError
from ui.commands import cluster_sweep, memory_inject
from ui.config import STARTERS, available_sets, load_set
from promptsets.paths import DEMO_PROMPTS

ROOT = Path(__file__).resolve().parent.parent


def fake_run(clean: list[float], samples: list[list[float]]) -> SimpleNamespace:
    return SimpleNamespace(clean_logits=np.log(np.array(clean)), logits=np.log(np.array(samples)))


def strs(ids):
    return [f"t{i}" for i in ids]


def test_an_unchanged_run_has_zero_kl_and_the_same_rank():
    p = [0.5, 0.3, 0.2]
    r = summarise_run(fake_run(p, [p, p]), strs, k=3, target_id=1)
    assert r.kl == pytest.approx(0.0, abs=1e-12)
    assert (r.rank_clean, r.rank_impaired) == (2, 2)
    np.testing.assert_allclose(r.impaired, r.clean)
    np.testing.assert_allclose(r.impaired_std, 0.0)


def test_mean_spread_kl_and_rank_over_samples():
    clean = [0.7, 0.2, 0.1]
    s1, s2 = [0.1, 0.6, 0.3], [0.3, 0.4, 0.3]
    r = summarise_run(fake_run(clean, [s1, s2]), strs, k=2, target_id=None)
    assert r.target_id == 0 and r.target_label == "'t0'"
    assert r.labels == ("'t0'", "'t1'")  # by max(clean, impaired mean): t0 0.7, t1 0.5, t2 0.3
    assert r.impaired[list(r.token_ids).index(0)] == pytest.approx(0.2)
    assert r.impaired_std[list(r.token_ids).index(0)] == pytest.approx(np.std([0.1, 0.3], ddof=1))  # as RunResult
    expected = np.mean([sum(c * np.log(c / q) for c, q in zip(clean, s)) for s in (s1, s2)])
    assert r.kl == pytest.approx(expected)
    assert (r.rank_clean, r.rank_impaired) == (1, 3)  # impaired means: t0 0.2 < t2 0.3 < t1 0.5


def test_nan_logits_raise_the_engine_error():
    with pytest.raises(NonFiniteError, match="intensity"):
        summarise_run(SimpleNamespace(clean_logits=np.zeros(3), logits=np.full((1, 3), np.nan)), strs)


def test_the_chart_labels_carry_their_rank_and_show_the_spread():
    p = [0.5, 0.3, 0.2]
    fig = plot_next_token_probs(summarise_run(fake_run(p, [p, [0.2, 0.3, 0.5]]), strs, k=3))
    assert [t.name for t in fig.data] == ["clean", "impaired (K=2)"]
    assert all(x.split(": ")[0].isdigit() for x in fig.data[0].x)
    assert fig.data[1].error_y.visible


def test_unit_lists_parse_ranges_and_refuse_nonsense():
    assert parse_units("2:0-2, 3:7, 2:1") == ((2, 0), (2, 1), (2, 2), (3, 7))
    for bad in ("", "7", "a:b", "1:5-2"):
        with pytest.raises(ClusterError, match="layer"):
            parse_units(bad)


def test_prompt_sets_and_starters_come_with_answers():
    sets = available_sets()
    assert sets == (STARTERS, "keywords", "facts", "two-hop"), f"demo prompt sets missing under {DEMO_PROMPTS}"
    starters = load_set(STARTERS)
    assert 3 <= len(starters) <= 20
    assert all(c.prompt and c.answer and c.prompt in c.label for c in starters)
    assert all(c.memory for c in load_set("two-hop"))


def test_command_lines_quote_what_the_user_typed():
    cmd = memory_inject("assets/demo", "It's born in", " Tovaren", " Marlow", 2, 4.0, "unembedding", False, "all")
    args = shlex.split(cmd)
    assert args[args.index("--prompt") + 1] == "It's born in"
    assert args[args.index("--memory") + 1] == " Tovaren"
    assert "--cluster" in shlex.split(cluster_sweep("assets/demo", "assets/demo/clusters/athlete.json", "athlete", "noise", "0,1", 0, 4))


@pytest.mark.parametrize("folder", ["compare", "cluster/impair.py", "cluster/plots.py", "ui/commands.py",
                                    "ui/config.py", "ui/config.py"])
def test_the_plain_modules_never_import_streamlit(folder):
    files = [ROOT / folder] if folder.endswith(".py") else sorted((ROOT / folder).glob("*.py"))
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_app_pages_stay_thin_and_never_touch_torch():
    for path in sorted((ROOT / "app_pages").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 100, f"{path.name} is over 100 lines"
        assert "import torch" not in text, path.name


def test_every_cache_a_session_can_fill_is_bounded_in_entries_and_time():
    import ast

    unbounded = []
    for path in sorted((ROOT / "ui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or not node.args.args:
                continue  # a cache without arguments holds one value
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "cache_data":
                    given = {k.arg for k in deco.keywords}
                    if not {"max_entries", "ttl"} <= given:
                        unbounded.append(f"{path.name}:{node.name}")
    assert not unbounded, f"caches keyed by session input without max_entries and ttl: {unbounded}"
