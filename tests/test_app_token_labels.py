"""Tokens that are part of a character (an emoji's UTF-8 bytes) are labelled by their bytes,
``<0xF0>``, on every page, never by a replacement character."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_app_helpers import app_model, assert_clean, charts, open_app  # noqa: F401
from tinystories import TINYSTORIES, requires_tinystories

EMOJI = "The party 🎉 café"


def test_byte_level_pieces_of_an_emoji_show_their_bytes(app_model):
    from engine import Engine

    engine = Engine.load(app_model)
    ids = engine.tokenizer.encode(EMOJI, add_special_tokens=False)
    labels = engine.token_strs(ids)
    assert not any("\ufffd" in t for t in labels), labels
    assert "<0xF0>" in labels or any(t.endswith("<0xF0>") for t in labels), labels
    for i, label in zip(ids, labels):
        whole = engine.tokenizer.decode([i])
        if "\ufffd" not in whole:
            assert label == whole, "a whole token keeps its own text"


@requires_tinystories
def test_sentencepiece_labels_are_the_pieces_text():
    from engine import Engine

    engine = Engine.load(str(TINYSTORIES))
    ids = engine.tokenizer.encode("Once upon a time 🎉 there was", add_special_tokens=False)
    labels = engine.token_strs(ids)
    assert not any("\ufffd" in t for t in labels), labels
    assert labels == [engine.tokenizer.decode([i]) for i in ids]


@pytest.mark.parametrize("page", ["app_pages/lens.py", "app_pages/impair.py"])
def test_pages_label_emoji_bytes(app_model, page):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value(EMOJI).run()
    at.sidebar.text_input(key="target").set_value("").run()
    at.switch_page(page).run()
    assert_clean(at)
    text = str(charts(at)) + " ".join(str(w.options) for w in at.multiselect) + str(at.get("select_slider"))
    assert "\ufffd" not in text
    if page == "app_pages/lens.py":
        assert "<0xF0>" in text
