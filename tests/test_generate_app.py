"""AppTest of the continuation panels: on Impair, Memory and Edit, turned on, they show the clean
continuation and the intervened one, each what Engine.generate gives."""

from __future__ import annotations

from cluster.impair import impairs
from cluster.spec import load_cluster
from engine import Engine
from memory.inject import build_memory, inject_at
from test_app_helpers import app_model, assert_clean, open_app, open_typed  # noqa: F401

IMPAIR = {"prompt": "Higrus is a professional", "target": " football"}
MEMORY = {"prompt": "The founder of Bridirkex was born in", "target": " Peicenton"}


def texts(at) -> list[str]:
    """The continuations shown (plain text elements), without the leading ellipsis."""
    return [t.value.removeprefix("…") for t in at.text]


def opened(page: str, sidebar: dict, query: dict):
    at = open_typed(page, sidebar["prompt"], sidebar["target"], query)
    assert_clean(at)
    return at


def test_the_panel_is_off_until_asked(app_model):
    at = opened("app_pages/impair.py", IMPAIR, {"mode": "zero"})
    assert not at.text and at.toggle(key="impair_gen").value is False


def test_impair_shows_the_clean_and_the_impaired_continuation(app_model):
    at = opened("app_pages/impair.py", IMPAIR, {"mode": "zero", "cluster": "athlete"})
    at.toggle(key="impair_gen").set_value(True).run()
    assert_clean(at)
    engine = Engine.load(app_model)
    ivs = impairs(load_cluster(app_model + "/clusters/athlete.json"), "zero", 1.0, seed=0, positions="all")
    clean, impaired = texts(at)
    assert clean == engine.generate(IMPAIR["prompt"], max_new_tokens=20).text
    assert impaired == engine.generate(IMPAIR["prompt"], ivs, max_new_tokens=20).text
    assert clean != impaired and clean.startswith(" football")


def test_memory_shows_the_injected_continuation(app_model):
    at = opened("app_pages/memory.py", MEMORY, {"memory": " Krothux", "mem_layer": "1", "mem_scale": "8"})
    at.toggle(key="mem_gen").set_value(True).run()
    assert_clean(at)
    engine = Engine.load(app_model)
    inject = inject_at(engine, build_memory(engine, " Krothux"), 1, 8.0, "all")
    clean, injected = texts(at)
    assert clean == engine.generate(MEMORY["prompt"], max_new_tokens=20).text
    assert injected == engine.generate(MEMORY["prompt"], (inject,), max_new_tokens=20).text


def test_edit_continues_with_the_new_object(app_model):
    at = opened("app_pages/edit.py", {"prompt": "Dadon plays", "target": ""}, {"edit_new": " cycling"})
    at.toggle(key="edit_gen").set_value(True).run()
    assert_clean(at)
    clean, edited = texts(at)
    assert not clean.startswith(" cycling") and edited.startswith(" cycling"), (clean, edited)
