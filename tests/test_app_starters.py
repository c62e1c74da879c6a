"""The starter prompts a workshop opens on: chosen by the teacher (LENSLAB_STARTERS), and the
shipped default chosen to teach (one per topic, no insult first, two-hop prompts Memory repairs)."""

from __future__ import annotations

import json

import pytest

from test_app_helpers import app_model, assert_user_error, open_app  # noqa: F401
from ui.config import DEFAULT_STARTERS, STARTERS, starter_prompts


def shipped():
    return starter_prompts(DEFAULT_STARTERS)


def test_the_shipped_starters_cover_every_topic_and_open_without_an_insult():
    from ui.config import topic_of

    starters = shipped()
    topics = [topic_of(c.prompt) for c in starters]
    assert {"athlete", "artist", "company"} <= set(topics), topics
    assert "toxic" not in topics[:-1], "an insult is the last starter, never the first ones"
    assert sum(bool(c.memory) for c in starters) >= 2, "two-hop starters carry the memory to inject"


def test_the_two_hop_starters_are_answered_wrong_and_memory_repairs_them():
    from engine import Engine
    from memory.inject import InjectionSpec, inject_memory
    from promptsets.paths import DEMO_DIR

    engine = Engine.load(str(DEMO_DIR))
    for c in (c for c in shipped() if c.memory):
        clean_top = engine.token_strs([int(engine.run(c.prompt).clean_logits.argmax())])[0]
        assert clean_top != c.answer, f"{c.prompt!r} is already answered: nothing for Memory to repair"
        result = inject_memory(engine, c.prompt, c.answer, InjectionSpec(c.memory, 1, 5.0))
        assert result.top_after[0][0] == c.answer and result.gain > 2, (c.prompt, result.gain)


def test_the_teacher_chooses_the_starters(app_model, tmp_path, monkeypatch):
    path = tmp_path / "mine.jsonl"
    rows = [{"label": "Ours: Drinex", "prompt": "Drinex plays", "answer": " cycling"},
            {"prompt": "The founder of Pothasix was born in", "answer": " Stugax", "memory": " Loteix"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setenv("LENSLAB_STARTERS", str(path))
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    at = open_app()
    assert at.sidebar.selectbox(key="_set").value == STARTERS
    pick = at.sidebar.selectbox(key="_pick")
    assert pick.options == ["Ours: Drinex", "The founder of Pothasix was born in → Stugax"]
    pick.select_index(1).run()
    assert at.sidebar.text_area(key="prompt").value == rows[1]["prompt"]
    assert at.session_state["memory"] == " Loteix"


def test_a_bad_starters_file_is_one_error_naming_its_line(app_model, tmp_path, monkeypatch):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "Drinex plays", "answer": " cycling"}\n{"prompt": "no answer"}\n')
    monkeypatch.setenv("LENSLAB_STARTERS", str(path))
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    at = open_app()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "line 2" in errors[0], errors
