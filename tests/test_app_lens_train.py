"""AppTest of "Train lenses" on a model that is not the demo: the layers wanted first, the others added
later into the same lenses, and a stopped training that continues from its checkpoint."""

from __future__ import annotations

import pytest
import torch

from engine import Engine
from lens import load_lenses, train_lenses
from lens.extend import add_layers, stopped_at, training_folder

from test_app_helpers import assert_clean, charts, open_app, warnings_text

PAGE = "app_pages/lens.py"
LINES = ["Tovaren plays tennis and was born in Marlow.", "you are a useless idiot", "thanks for the helpful post"] * 6


class Stop(Exception):
    pass


@pytest.fixture
def tiny_app(tiny_model_dir, monkeypatch, tmp_path):
    """The app on the tiny GPT-2 (three layers), with a small training text; returns (model, text file)."""
    monkeypatch.delenv("LENSLAB_WORKSHOP", raising=False)
    monkeypatch.setenv("LENSLAB_MODEL", str(tiny_model_dir))
    text = tmp_path / "text.txt"
    text.write_text("\n".join(LINES) + "\n")
    return str(tiny_model_dir), text


def train_from_page(at, text, steps: int, layers: list[int]) -> None:
    at.number_input(key="train_steps").set_value(steps).run()
    at.text_input(key="train_data").set_value(str(text)).run()
    at.multiselect(key="train_layers").set_value(layers).run()
    at.button(key="train_go").click().run()


def test_train_the_chosen_layers_first_then_add_the_others(tiny_app, tmp_path):
    model, text = tiny_app
    folder = tmp_path / "lenses"
    at = open_app(PAGE, {"lenses": str(folder)})
    assert at.multiselect(key="train_layers").value == [0, 1, 2]
    train_from_page(at, text, 4, [2])
    assert_clean(at)
    engine = Engine.load(model)
    assert load_lenses(folder, engine).layers == (2,)
    assert len(charts(at)) == 4, "the head grid shows the trained layer"
    assert at.multiselect(key="train_layers").options == ["0", "1"], "only the missing layers are offered"
    train_from_page(at, text, 4, [0, 1])
    assert_clean(at)
    grown = load_lenses(folder, engine)
    whole = train_lenses(engine, LINES, tmp_path / "whole", steps=4, progress=lambda d, t: None, data_name="text.txt")
    assert grown.layers == (0, 1, 2)
    for layer in grown.layers:
        torch.testing.assert_close(grown.layer(layer).weight, whole.layer(layer).weight, rtol=0, atol=1e-6)
    assert not [w for w in at.multiselect if w.key == "train_layers"], "nothing is left to train"


def test_a_stopped_training_continues_from_its_checkpoint(tiny_app, tmp_path):
    model, text = tiny_app
    folder = tmp_path / "lenses"
    engine = Engine.load(model)

    def stop_after_30(done, total):
        if done == 30:
            raise Stop

    with pytest.raises(Stop):
        add_layers(engine, LINES, folder, [0, 1, 2], steps=40, checkpoint_every=25, progress=stop_after_30,
                   data_name="text.txt")
    at = open_app(PAGE, {"lenses": str(folder)})
    assert "reached step 25" in warnings_text(at)
    train_from_page(at, text, 40, [0, 1, 2])
    assert_clean(at)
    assert stopped_at(training_folder(folder, [0, 1, 2])) is None, "the checkpoint is gone once the lenses are saved"
    resumed = load_lenses(folder, engine)
    whole = train_lenses(engine, LINES, tmp_path / "whole", steps=40, progress=lambda d, t: None, data_name="text.txt")
    for layer in (0, 1, 2):
        torch.testing.assert_close(resumed.layer(layer).weight, whole.layer(layer).weight, rtol=0, atol=1e-6)


def test_no_layer_picked_is_one_clear_error(tiny_app, tmp_path):
    _, text = tiny_app
    at = open_app(PAGE, {"lenses": str(tmp_path / "lenses")})
    train_from_page(at, text, 2, [])
    assert [e.value for e in at.error] == ["Pick at least one layer to train."]
    assert not (tmp_path / "lenses").exists()
