"""The sidebar's prompt sets: the demo's for the demo, the English sets for any other model, a user's own
folder of JSONL files, and one clear error for a folder or file that cannot be used."""

from __future__ import annotations

import json

import pytest

from test_app_helpers import app_model, assert_clean, assert_user_error, open_app  # noqa: F401
from promptsets.paths import DEMO_DIR

SOURCE = f"_source:{DEMO_DIR}"


def source_box(at):
    return next(s for s in at.sidebar.selectbox if s.key and s.key.startswith("_source:"))


def use_model(at, model: str):
    at.sidebar.text_input(key="model").set_value(model).run()
    return at


def use_folder(at, folder) -> None:
    source_box(at).set_value("your own folder").run()
    at.sidebar.text_input(key="_prompt_dir").set_value(str(folder)).run()


def own_folder(tmp_path):
    rows = [{"topic": "animal", "prompt": "The cat sat on the", "answer": " mat", "split": "train"},
            {"topic": "animal", "prompt": "The dog chased the", "answer": " ball", "split": "heldout"}]
    (tmp_path / "keywords.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_the_demo_opens_on_its_own_sets(app_model):
    at = open_app()
    assert_clean(at)
    assert source_box(at).value == "demo world"
    assert {"keywords", "facts", "two-hop"} <= set(at.sidebar.selectbox(key="_set").options)


def test_another_model_opens_on_the_english_sets(app_model, tiny_model_dir):
    at = use_model(open_app(), str(tiny_model_dir))
    assert_clean(at)
    assert source_box(at).value == "English (real models)"
    at.sidebar.selectbox(key="_set").set_value("two-hop").run()
    pick = at.sidebar.selectbox(key="_pick")
    assert any("The nationality of the performer of Imagine is" in c for c in pick.options)
    pick.select_index(0).run()
    assert at.sidebar.text_area(key="prompt").value.startswith("The nationality of the author of")
    assert at.sidebar.text_input(key="target").value == " English"


def test_a_users_own_folder_is_offered_and_fills_the_prompt(app_model, tmp_path):
    at = open_app()
    use_folder(at, own_folder(tmp_path))
    assert_clean(at)
    assert at.sidebar.selectbox(key="_set").options == ["starter prompts", "keywords"]
    at.sidebar.selectbox(key="_set").set_value("keywords").run()
    at.sidebar.selectbox(key="_pick").select_index(1).run()
    assert at.sidebar.text_area(key="prompt").value == "The dog chased the"
    assert at.sidebar.text_input(key="target").value == " ball"


@pytest.mark.parametrize("case, words", [
    ("missing", ("does not exist",)),
    ("file", ("is a file, not a folder",)),
    ("empty", ("holds none of", "keywords.jsonl")),
])
def test_an_unusable_folder_is_one_clear_error(app_model, tmp_path, case, words):
    folder = {"missing": tmp_path / "nowhere", "file": tmp_path / "keywords.jsonl", "empty": tmp_path}[case]
    if case == "file":
        folder.write_text("{}\n")
    at = open_app()
    use_folder(at, folder)
    assert_user_error(at, *words)
    assert len(at.error) == 1
    assert not [s for s in at.sidebar.selectbox if s.key == "_set"], "no sets are offered from a bad folder"


@pytest.mark.parametrize("line, words", [("{not json", ("not valid JSON",)), ('{"topic": "x"}', ("lacks field",))])
def test_a_broken_file_is_one_clear_error(app_model, tmp_path, line, words):
    (tmp_path / "keywords.jsonl").write_text(line + "\n")
    at = open_app()
    use_folder(at, tmp_path)
    at.sidebar.selectbox(key="_set").set_value("keywords").run()
    assert_user_error(at, *words)
    assert len(at.error) == 1


def test_a_workshop_offers_no_path_box(app_model, monkeypatch, tmp_path):
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    at = open_app()
    assert_clean(at)
    assert not [s for s in at.sidebar.selectbox if s.key and s.key.startswith("_source:")]
    assert "_prompt_dir" not in {w.key for w in at.sidebar.text_input}
    monkeypatch.setenv("LENSLAB_PROMPTS", str(own_folder(tmp_path)))
    at = open_app()
    assert at.sidebar.selectbox(key="_set").options == ["starter prompts", "keywords"]


def test_a_prompt_that_ends_with_its_space_keeps_its_topic(tmp_path):
    from ui.config import topic_of

    row = {"topic": "family", "prompt": "Lily hugged her ", "answer": "mom", "split": "train", "entity": "Lily"}
    (tmp_path / "keywords.jsonl").write_text(json.dumps(row) + "\n")
    assert topic_of("Lily hugged her ", tmp_path) == "family"
    assert topic_of("Lily hugged his ", tmp_path) is None
