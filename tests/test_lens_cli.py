"""``python -m lens``: train, eval, decode and import on a tiny model, and clear errors."""

from __future__ import annotations

import pytest

from lens.cli import main
from tiny_models import SENTENCES, save_tiny_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text("\n".join(f"{s} {i}" for i, s in enumerate(SENTENCES)) + "\n", encoding="utf-8")
    return path


def test_train_then_eval_prints_kl_per_layer_and_sizes(tiny_model_dir, data, tmp_path, capsys):
    model = str(tiny_model_dir)
    for kind in ("compact", "full"):
        rc = main(["train", "--model", model, "--out", str(tmp_path / kind), "--kind", kind, "--steps", "3",
                   "--data", str(data), "--layers", "0,2", "--batch-size", "8"])
        assert rc == 0
    out = capsys.readouterr().out
    assert "saved full lenses for layers [0, 2]" in out and "layer 2: held-out KL per head" in out
    rc = main(["eval", "--model", model, "--lenses", str(tmp_path / "compact"), "--full", str(tmp_path / "full"),
               "--data", str(data)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    header = next(l for l in lines if l.startswith("layer "))
    names = ("logit lens (resid_post)", "logit lens (head writes)", "compact attention lens", "full attention lens",
             "best constant", "lowest")
    assert all(name in header for name in names)
    assert sum(1 for l in lines if l.split()[:1] in (["0"], ["2"])) == 2
    assert "full/compact = 65.4x" in out
    verdicts = [l for l in lines if "at every layer:" in l]
    assert any(l.startswith("compact KL <= full KL at every layer: ") for l in verdicts)
    assert all(l.endswith(": yes") or ": NO (fails at layers [" in l for l in verdicts)


def test_decode_prints_each_layer(tiny_model_dir, data, tmp_path, capsys):
    main(["train", "--model", str(tiny_model_dir), "--out", str(tmp_path), "--steps", "1", "--data", str(data),
          "--batch-size", "8"])
    capsys.readouterr()
    rc = main(["decode", "--model", str(tiny_model_dir), "--lenses", str(tmp_path), "--prompt",
               "Zentrix is a shipping company", "--target", " based"])
    out = capsys.readouterr().out
    assert rc == 0 and "target ' b" in out  # the target's first token
    assert [l.split(":")[0] for l in out.splitlines()[1:]] == ["layer 0", "layer 1", "layer 2"]


def test_lenses_of_another_model_fail_with_a_message(tiny_model_dir, data, tmp_path, capsys):
    other = save_tiny_model("gpt2", tmp_path / "other", seed=5)
    main(["train", "--model", str(other), "--out", str(tmp_path / "lenses"), "--steps", "1", "--data", str(data),
          "--batch-size", "8"])
    rc = main(["eval", "--model", str(tiny_model_dir), "--lenses", str(tmp_path / "lenses"), "--data", str(data)])
    assert rc == 2 and "made for model" in capsys.readouterr().err


def test_missing_data_and_bad_layers_are_reported(tiny_model_dir, tmp_path, capsys):
    rc = main(["train", "--model", str(tiny_model_dir), "--out", str(tmp_path), "--data", str(tmp_path / "none.txt")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    assert main(["train", "--model", str(tiny_model_dir), "--out", str(tmp_path), "--layers", "one"]) == 2
    assert "argument --layers: comma-separated" in capsys.readouterr().err
