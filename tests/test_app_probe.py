"""AppTest of the Probes page: accuracy per layer with its baselines, the sparsity curve, attribution on a button
with each top sentence marked true or not, the reproduce command, and a bad file shown as one message."""

from __future__ import annotations

import contextlib
import io
import shlex

import numpy as np

from probe import __main__ as cli
from test_app_helpers import array, assert_clean, assert_every_chart_captioned, charts, open_app
from ui.commands import PYTHON

PAGE = "app_pages/probe.py"


def open_probe(model: str, query: dict | None = None):
    """The app on ``model`` with the Probes page open at ``query``."""
    at = open_app()
    at.sidebar.text_input(key="model").set_value(model).run()
    at.switch_page(PAGE)
    at.query_params.update(query or {})
    at.run()
    return at


def test_the_page_draws_accuracy_per_layer_and_the_sparsity_curve(tiny_world_dir):
    at = open_probe(str(tiny_world_dir), {"probe_concept": "role"})
    assert_clean(at)
    acc, sparse = charts(at)
    names = [t["name"] for t in acc["data"]]
    assert "majority class" in names and "probe on residual stream" in names and "shuffled labels (resid)" in names
    resid = next(t for t in acc["data"] if t["name"] == "probe on residual stream")
    assert list(resid["x"]) == ["embed", "layer 0", "layer 1"]  # the tiny world has 2 layers
    assert ((array(resid["y"]) >= 0) & (array(resid["y"]) <= 1)).all()
    assert len(sparse["data"][0]["x"]) == 12
    assert_every_chart_captioned(at)
    command = next(c.value for c in at.code if c.value.startswith(PYTHON + " -m probe fit"))
    assert "--concept role" in command


def test_the_page_and_its_command_show_the_same_accuracy(tiny_world_dir):
    at = open_probe(str(tiny_world_dir), {"probe_concept": "country"})
    assert_clean(at)
    resid = next(t for t in charts(at)[0]["data"] if t["name"] == "probe on residual stream")
    command = next(c.value for c in at.code if c.value.startswith(PYTHON + " -m probe fit"))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(shlex.split(command.splitlines()[0])[3:]) == 0
    printed = [float(line.split("\t")[1]) for line in buf.getvalue().splitlines() if line.startswith("resid ")]
    np.testing.assert_allclose(array(resid["y"]).astype(float), printed, atol=5e-4)


def test_attribution_runs_on_the_button_and_marks_each_sentence(tiny_world_dir):
    at = open_probe(str(tiny_world_dir), {"probe_concept": "role", "probe_targets": "2", "probe_others": "20",
                                          "probe_k": "3"})
    assert_clean(at)
    assert not at.dataframe
    at.button(key="probe_att_go").click().run()
    assert_clean(at)
    precision, top = (d.value for d in at.dataframe)  # precision per method, then one subject's top sentences
    assert list(precision["method"]) == ["trak", "gradsim", "random"]
    assert len(top) == 3 and set(top["states_fact"]) <= {True, False}
    assert any("-m probe attribute" in c.value for c in at.code)


def test_a_missing_concepts_file_is_one_message(tiny_world_dir):
    at = open_probe(str(tiny_world_dir), {"probe_file": str(tiny_world_dir / "nope.jsonl")})
    assert len(at.error) == 1 and "no concepts file" in at.error[0].value
    assert not at.exception


def test_a_workshop_takes_no_concepts_path_from_a_link(tiny_world_dir, monkeypatch):
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    monkeypatch.setenv("LENSLAB_MODEL", str(tiny_world_dir))
    at = open_app(PAGE, {"probe_file": "/etc/passwd", "probe_concept": "role"})
    assert not at.exception and not [t for t in at.text_input if t.key == "probe_file"]
    assert len(charts(at)) == 2  # the model's own concepts file was used
