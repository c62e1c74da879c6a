"""AppTest of the Patch page: the demo pair's heatmaps, the same numbers as `python -m patch`,
both directions, and a pair of different lengths refused in one message."""

from __future__ import annotations

import contextlib
import io
import shlex
from pathlib import Path

import numpy as np
import pytest

from patch import cli
from test_app_helpers import (app_model, array, assert_clean, assert_every_chart_captioned,  # noqa: F401
                              assert_user_error, charts, metric_values, open_app)
from ui.commands import PYTHON
from tinystories import TINYSTORIES, requires_tinystories

PAGE = "app_pages/patch.py"
PAIR = {"patch_clean": "Higrus plays", "patch_corrupted": "Thoutal plays", "patch_answer": " football",
        "patch_bad_answer": " cycling"}


def heatmaps(at) -> list[np.ndarray]:
    """The z values of the page's heatmaps, in page order."""
    return [array(f["data"][0]["z"]).astype(float) for f in charts(at) if f["data"][0]["type"] == "heatmap"]


def cli_output(at) -> str:
    """Run the page's reproduce command in this process; its stdout."""
    command = next(c.value for c in at.code if c.value.startswith(PYTHON + " -m patch"))
    argv = shlex.split(command)[3:]  # after `.venv/bin/python -m patch`
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(argv) == 0, command
    return buf.getvalue()


def cli_grids(text: str) -> list[np.ndarray]:
    """The CLI's three grids (lines after each 'layer' header) as arrays."""
    grids, rows = [], None
    for line in text.splitlines():
        if line.startswith("layer\t"):
            rows = []
            grids.append(rows)
        elif rows is not None and line[:1].isdigit():
            rows.append([float(v) for v in line.split("\t")[1:]])
        else:
            rows = None
    return [np.asarray(g) for g in grids]


def test_the_demo_pair_draws_three_captioned_heatmaps(app_model):
    at = open_app(PAGE, PAIR)
    assert_clean(at)
    resid, heads, mlp = heatmaps(at)
    assert resid.shape == mlp.shape == (4, 3) and heads.shape == (4, 4)  # 'H', 'igrus', ' plays'
    # The subject's last piece carries nearly the whole difference at layer 0; from layer 1 on, the last position.
    assert resid[0, 1] > 0.9 and abs(resid[0, 2]) < 1e-6 and min(resid[1:, 2]) > 0.9
    assert_every_chart_captioned(at)


def test_the_page_and_its_command_show_the_same_numbers(app_model):
    for direction in ("denoise", "noise"):
        at = open_app(PAGE, {**PAIR, "patch_dir": direction, "patch_metric": "prob"})
        assert_clean(at)
        text = cli_output(at)
        for page_grid, cli_grid in zip(heatmaps(at), cli_grids(text), strict=True):
            np.testing.assert_allclose(page_grid, cli_grid, atol=5e-4)
        values = metric_values(at)
        assert f"clean {values['metric on the clean prompt']}" in text
        assert f"corrupted {values['metric on the corrupted prompt']}" in text


def test_switching_the_direction_redraws_the_heatmaps(app_model):
    at = open_app(PAGE, PAIR)
    before = heatmaps(at)[0]
    at.radio(key="patch_dir").set_value("noise").run()
    assert_clean(at)
    after = heatmaps(at)[0]
    # Denoising the subject's last piece restores the answer; noising it (the other way) leaves most of it.
    assert before[0, 1] > 0.9 and after[0, 1] < 0.1


def test_prompts_of_different_lengths_show_one_error(app_model):
    at = open_app(PAGE, {**PAIR, "patch_corrupted": "Drinex plays football"})
    assert_user_error(at, "same token length")
    assert not heatmaps(at)


def test_a_shared_link_keeps_the_metric_and_direction(app_model):
    at = open_app(PAGE, {**PAIR, "patch_metric": "prob", "patch_dir": "noise"})
    assert_clean(at)
    assert at.radio(key="patch_metric").value == "prob" and at.radio(key="patch_dir").value == "noise"
    assert at.query_params["patch_dir"] == ["noise"] or at.query_params["patch_dir"] == "noise"
    assert "--metric prob --direction noise" in next(c.value for c in at.code if c.value.startswith(PYTHON + " -m patch"))




@requires_tinystories
def test_the_page_runs_on_the_tinystories_llama(app_model):
    at = open_app()
    at.sidebar.text_input(key="model").set_value(str(TINYSTORIES.resolve())).run()
    at.switch_page(PAGE)
    at.query_params.update({"patch_clean": "Once upon a time, there was a little girl named Lily. Lily",
                            "patch_corrupted": "Once upon a time, there was a little boy named Tom. Tom",
                            "patch_answer": ". She ", "patch_bad_answer": "my "})
    at.run()
    assert_clean(at)
    resid, heads, mlp = heatmaps(at)
    assert resid.shape == mlp.shape == (2, 10) and heads.shape == (2, 8)
    assert not [s for s in at.selectbox if s.key == "_patch_pair"]  # no demo pairs for another model


def test_the_page_opens_on_a_demo_pair_and_picking_another_fills_the_boxes(app_model):
    at = open_app(PAGE)
    assert_clean(at)
    assert len(heatmaps(at)) == 3
    at.selectbox(key="_patch_pair").select_index(5).run()
    assert_clean(at)
    pair = at.selectbox(key="_patch_pair").value
    assert at.text_input(key="patch_clean").value == pair.clean
    assert at.text_input(key="patch_bad_answer").value == pair.corrupted_answer
    command = next(c.value for c in at.code if c.value.startswith(PYTHON + " -m patch"))
    assert shlex.quote(pair.corrupted) in command
