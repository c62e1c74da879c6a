"""Linear CKA (compare/): its invariances, its errors, and the per-layer comparisons on a real model."""

from __future__ import annotations

import numpy as np
import pytest

from compare import CompareError, TokenizerMismatchError, cka_between_models, cka_clean_vs_impaired, linear_cka
from compare.plots import plot_cka_layers, plot_cka_models
from engine import Engine, Impair
from tiny_models import save_tiny_model

PROMPT = "Tovaren plays tennis and was born in Marlow."


def test_cka_is_one_for_the_same_geometry_and_invariant_to_rotation_and_scale():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3.0 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, x + 5.0) == pytest.approx(1.0)


def test_cka_is_low_for_unrelated_representations_and_symmetric():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 16)), rng.normal(size=(200, 24))
    assert linear_cka(x, y) < 0.3
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))


@pytest.mark.parametrize("x, y, words", [
    (np.ones((1, 4)), np.ones((1, 4)), "at least 2"),
    (np.zeros((5, 4)), np.eye(5, 4), "same at every position"),
    (np.eye(5, 4), np.full((5, 4), np.nan), "NaN"),
    (np.eye(5, 4), np.eye(6, 4), "same items"),
])
def test_cka_refuses_what_it_cannot_measure(x, y, words):
    with pytest.raises(CompareError, match=words):
        linear_cka(x, y)


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def test_no_intervention_gives_cka_one_at_every_layer(engine):
    result = cka_clean_vs_impaired(engine, [PROMPT], [], "resid_post")
    np.testing.assert_allclose(result.cka, 1.0, atol=1e-6)
    assert plot_cka_layers(result).data[0].y is not None


def test_noise_lowers_cka_from_its_layer_on_only(engine):
    noise = Impair(layer=1, neurons=tuple(range(engine.spec.d_mlp)), mode="noise", intensity=20.0)
    result = cka_clean_vs_impaired(engine, [PROMPT], [noise], "resid_post")
    assert result.cka[0] == pytest.approx(1.0, abs=1e-6)
    assert result.cka[1] < 0.99 and result.cka[2] < 0.99


def test_a_model_against_itself_has_a_unit_diagonal(engine):
    result = cka_between_models(engine, engine, [PROMPT])
    np.testing.assert_allclose(np.diag(result.cka), 1.0, atol=1e-6)
    assert plot_cka_models(result).data[0].z.shape == (engine.spec.n_layers, engine.spec.n_layers)


def test_two_models_with_different_tokenizers_are_refused(engine, tmp_path):
    from world.tokenizer import train_tokenizer

    other = save_tiny_model("gpt2", tmp_path / "other", seed=1)
    train_tokenizer(["completely different words here"] * 50, 280).save_pretrained(other)
    with pytest.raises(TokenizerMismatchError, match="tokenizer"):
        cka_between_models(engine, Engine.load(other), [PROMPT])


def test_command_line_prints_the_layer_table_and_reports_errors(tiny_model_dir, tmp_path, capsys):
    from cluster.spec import Cluster, save_cluster
    from compare.cli import main

    path = save_cluster(Cluster(name="c", neurons=((1, 0), (1, 1))), tmp_path / "c.json")
    assert main(["impaired", "--model", str(tiny_model_dir), "--cluster", str(path), "--intensity", "5",
                 "--prompt", PROMPT]) == 0
    out = capsys.readouterr().out
    assert "layer 0: 1.0000" in out and "layer 2:" in out
    assert main(["models", "--model", str(tiny_model_dir), "--other", str(tmp_path / "missing"), "--prompt", PROMPT]) == 2
    assert "error:" in capsys.readouterr().err
