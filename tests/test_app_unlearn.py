"""AppTest of the Unlearn page: a memorized secret's extraction, Apply, the scores before/after with the same
numbers as the reproduce command, the robustness curves on a button, and shared state never changed."""

from __future__ import annotations

import contextlib
import io
import shlex

from test_app_helpers import (app_model, assert_clean, assert_every_chart_captioned, charts,  # noqa: F401
                              metric_values, open_app)
from ui.commands import PYTHON
from unlearn import __main__ as cli

PAGE = "app_pages/unlearn.py"
QUERY = {"unlearn_secret": "Cafin", "unlearn_method": "random", "unlearn_budget": "8"}


def applied(query: dict | None = None):
    at = open_app(PAGE, {**QUERY, **(query or {})})
    at.button(key="unlearn_apply").click().run()
    return at


def test_a_secret_planted_64_times_shows_as_memorized(app_model):
    at = open_app(PAGE, QUERY)
    assert_clean(at)
    values = metric_values(at)
    assert values["Tokens reproduced"] == "11/11" and values["Memorized"] == "yes"
    assert "5 2 4 8 7 0 5 3 3 1" in " ".join(m.value for m in at.markdown)
    assert not charts(at), "nothing is unlearned before Apply"


def test_apply_shows_scores_before_and_after_matching_the_command(app_model):
    at = applied()
    assert_clean(at)
    values = metric_values(at)
    assert values["Memorized secrets"] in ("0/1", "1/1")
    assert values["1-hop fact accuracy"].endswith("%")
    assert_every_chart_captioned(at)
    command = next(c.value for c in at.code if c.value.startswith(PYTHON + " -m unlearn apply"))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(shlex.split(command)[3:]) == 0, command
    text = buf.getvalue()
    k = values["Memorized secrets"].split("/")[0]
    assert f"-> {float(k):.2f}" in text.split("memorized (all)")[1].splitlines()[0]
    assert f"-> {values['Held-out perplexity']}" in text


def test_the_robustness_curves_come_on_the_button(app_model):
    at = applied({"unlearn_method": "gradient", "unlearn_budget": "64"})
    assert_clean(at)
    assert len(charts(at)) == 1
    at.button(key="unlearn_robust_btn").click().run()
    assert_clean(at)
    figs = charts(at)
    assert len(figs) == 2 and len(figs[1]["data"]) == 6
    assert_every_chart_captioned(at)
