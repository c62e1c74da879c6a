"""Clusters by attribution: activation x gradient of the answer's logit, checked against the engine's own runs."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import load_cluster
from cluster.attribution import answer_attributions, find_attribution_clusters
from cluster.cli import main
from cluster.inputs import answer_token, prompt_hash, select_split
from engine import Engine
from engine.interventions import Impair
from test_cluster_engine import tiny_prompts
from promptsets.schema import write_jsonl


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


@pytest.mark.parametrize("site", ["mlp_post", "mlp_in", "mlp_out"])
def test_attribution_is_the_first_order_effect_of_shrinking_a_unit(engine, site):
    """Scaling one unit by (1 - eps) moves the answer logit by eps x its attribution, to first order."""
    p = tiny_prompts()[0]
    attr = answer_attributions(engine, [p], site)[0]
    answer = answer_token(engine, p.answer, p.prompt)
    clean = float(engine.run(p.prompt).logits[-1, answer])
    eps = 1e-2
    for flat in np.argsort(-np.abs(attr), axis=None)[:3]:  # the largest: float32 rounding hides tiny ones
        layer, unit = np.unravel_index(flat, attr.shape)
        run = engine.run(p.prompt, (Impair(layer=int(layer), neurons=(int(unit),), mode="scale",
                                           intensity=1 - eps, site=site),))
        moved = (clean - float(run.logits[-1, answer])) / eps
        assert moved == pytest.approx(float(attr[layer, unit]), rel=0.05)


def test_a_batch_gives_what_each_prompt_gives_alone_and_leaves_no_hook(engine):
    prompts = tiny_prompts()[:5]  # different lengths: right padding must not leak into real positions
    together = answer_attributions(engine, prompts)
    alone = np.stack([answer_attributions(engine, [p])[0] for p in prompts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape == (5, engine.spec.n_layers, engine.spec.d_mlp)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in engine.model.modules())
    assert not any(p.grad is not None for p in engine.model.parameters())


def test_clusters_rank_units_by_mean_attribution_of_the_train_prompts(engine):
    prompts = tiny_prompts()
    clusters = find_attribution_clusters(engine, prompts, percent=5)
    train = select_split(prompts, "train")
    attr = answer_attributions(engine, [p for p in train if p.topic == "artist"]).mean(axis=0)
    k = round(engine.spec.d_mlp * 0.05)
    c = clusters["artist"]
    assert c.method == "attribution" and c.topic == "artist" and c.prompt_hash == prompt_hash(train)
    assert c.counts(engine.spec.n_layers).tolist() == [k] * engine.spec.n_layers
    for layer, units in c.by_layer().items():
        assert set(units) == set(np.argsort(-attr[layer])[:k].tolist())


def test_cli_finds_attribution_clusters(tiny_model_dir, tmp_path, capsys):
    write_jsonl(tmp_path / "prompts" / "keywords.jsonl", tiny_prompts())
    rc = main(["find", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"), "--method",
               "attribution", "--percent", "5", "--out", str(tmp_path / "out")])
    assert rc == 0 and "athlete" in capsys.readouterr().out
    engine = Engine.load(str(tiny_model_dir))
    assert load_cluster(tmp_path / "out" / "company.json", engine).method == "attribution"
