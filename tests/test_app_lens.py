"""AppTest of the Lens page: logit-lens heatmap, lens training with progress, the head grid and its position slider."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import Engine
from lens import train_lenses
from tiny_models import save_tiny_model

from test_app_helpers import app_model, array, assert_clean, assert_every_chart_captioned, assert_user_error, charts, open_app  # noqa: F401

PAGE = "app_pages/lens.py"


@pytest.fixture
def tiny_corpus(tmp_path):
    """A few lines of training text, so training in a test takes seconds."""
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(["Shibeith plays boxing.", "The founder of Bridirkex was born in Peicenton."] * 8))
    return path


def grid_cells(at) -> np.ndarray:
    """The colour values (top-1 probabilities) of the layer x head grid."""
    fig = next(f for f in charts(at) if f["layout"]["xaxis"]["title"]["text"] == "head")
    return array(fig["data"][0]["z"])


def test_logit_lens_heatmap_renders(app_model):
    at = open_app(PAGE)
    assert_clean(at)
    fig = charts(at)[0]
    assert "Logit lens" in fig["layout"]["title"]["text"]
    assert_every_chart_captioned(at)


def test_training_lenses_then_moving_the_position_changes_the_grid(app_model, tmp_path, tiny_corpus):
    at = open_app(PAGE, {"lenses": str(tmp_path / "lenses")})
    assert at.button(key="train_go"), "a model without lenses must offer to train them"
    at.number_input(key="train_steps").set_value(2).run()
    at.text_input(key="train_data").set_value(str(tiny_corpus)).run()
    at.button(key="train_go").click().run()
    assert_clean(at)
    assert (tmp_path / "lenses" / "lens.json").is_file()
    before = grid_cells(at)
    slider = at.select_slider(key="lens_pos")
    slider.set_value(slider.options[0]).run()
    assert_clean(at)
    assert not np.allclose(grid_cells(at), before)
    assert len(charts(at)) == 4, "logit lens, head grid, head top-k and attention pattern"
    assert_every_chart_captioned(at)


def test_a_corrupt_lens_folder_shows_an_error(app_model, tmp_path):
    folder = tmp_path / "bad-lenses"
    folder.mkdir()
    (folder / "lens.json").write_text("{not json")
    at = open_app(PAGE, {"lenses": str(folder)})
    assert_user_error(at, "lens")


def test_lenses_of_another_model_show_an_error(app_model, tmp_path):
    other = save_tiny_model("gpt2", tmp_path / "other-model", seed=1)
    folder = tmp_path / "other-lenses"
    train_lenses(Engine.load(other), ["a b c"] * 4, folder, steps=1, progress=lambda d, t: None)
    assert json.loads((folder / "lens.json").read_text())
    at = open_app(PAGE, {"lenses": str(folder)})
    assert_user_error(at, "model")


def test_the_grid_is_coloured_by_the_target_with_a_toggle_for_the_top_token(app_model):
    from ui.lens import cached_heads, lens_stamp
    from ui.config import default_lens_folder

    at = open_app(PAGE, {"prompt": "Drinex plays", "target": " cycling"})
    assert_clean(at)
    folder = default_lens_folder(app_model)
    heads = cached_heads(app_model, folder, lens_stamp(folder), "Drinex plays", " cycling")
    last = heads.target_prob.shape[2] - 1
    np.testing.assert_allclose(grid_cells(at), heads.target_prob[:, :, last], atol=1e-6)
    at.toggle(key="lens_top").set_value(True).run()
    np.testing.assert_allclose(grid_cells(at), heads.top_probs[:, :, last, 0], atol=1e-6)
    grid = next(el for el in at.get("plotly_chart") if json.loads(el.proto.spec)["layout"]["xaxis"]["title"]["text"] == "head")
    assert grid.proto.selection_mode, "a click on a cell selects it (the page reruns with that head)"


def test_a_click_on_a_grid_cell_names_its_layer_and_head():
    from ui.lens import clicked_head

    event = {"selection": {"points": [{"x": "H2", "y": "L1", "z": 0.4}]}}
    assert clicked_head(event, (0, 1, 2, 3), 4) == (1, 2)
    assert clicked_head({"selection": {"points": []}}, (0, 1, 2, 3), 4) is None
    assert clicked_head({"selection": {"points": [{"x": "H9", "y": "L1"}]}}, (0, 1, 2, 3), 4) is None
