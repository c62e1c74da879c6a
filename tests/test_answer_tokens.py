"""Answers from the prompt: the answer's token is the first one the model must produce after *this* prompt
to write it, read off the joint encoding of prompt + answer; never a bare word-start marker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine, MultiTokenError
from promptsets.paths import DEMO_DIR
from tinystories import TINYSTORIES, requires_tinystories

ROOT = Path(__file__).resolve().parent.parent
needs_tinystories = requires_tinystories
STORY = "Once upon a time there was a"


@pytest.fixture(scope="module")
def demo() -> Engine:
    return Engine.load(DEMO_DIR)


@pytest.fixture(scope="module")
def story() -> Engine:
    return Engine.load(str(ROOT / TINYSTORIES))


def piece(engine: Engine, token: int) -> str:
    return engine.tokenizer.convert_ids_to_tokens([token])[0]


def test_byte_level_bpe_answer_is_the_predicted_token(demo):
    token = demo.token_id(" rugby", prompt="Dadon plays")
    assert token == int(demo.trace("Dadon plays").logits[-1].argmax()) == demo.token_ids(" rugby")[0]
    assert demo.token_id(" Stugax", prompt="The founder of Pothasix was born in") == demo.token_ids(" Stugax")[0]


def test_byte_level_bpe_prompt_ending_in_a_space(demo):
    """"plays " ends in a lone space token that merges with "rugby": the model still has "rugby" to write."""
    assert piece(demo, demo.encode("Dadon plays ")[-1]) == "Ġ"
    token = demo.token_id("rugby", prompt="Dadon plays ", first=True)
    assert not piece(demo, token).startswith("Ġ") and "rugby".startswith(demo.token_strs([token])[0])
    with pytest.raises(MultiTokenError, match=r"merging the prompt's last token ' '.*end the prompt with "
                                              r"'Dadon plays' and give ' rugby' instead"):
        demo.token_id("rugby", prompt="Dadon plays ")


def test_byte_level_bpe_refuses_a_leading_bare_space(demo):
    with pytest.raises(MultiTokenError, match=r"' ', ' rugby'.*only a space or word-start marker"):
        demo.token_id("  rugby", prompt="Dadon plays", first=True)


@needs_tinystories
def test_sentencepiece_answer_after_a_merging_prompt_names_its_tokens(story):
    """TinyStories writes "there was a dog" as there▁was▁a▁ + dog: " dog" after "...was a" has no token of its
    own, and the bare marker (the old answer, printed as P('')) is refused."""
    bare = story.tokenizer.convert_tokens_to_ids("▁")
    assert story.token_ids(" dog")[0] == bare
    for first in (True, False):
        with pytest.raises(MultiTokenError, match=r"' ', 'dog'.*'there was a ' \+ 'dog'.*"
                                                  r"end the prompt with 'there was a ' and give 'dog' instead"):
            story.token_id(" dog", prompt=STORY, first=first)
    with pytest.raises(MultiTokenError, match="only a space or word-start marker"):
        story.token_id(" dog", first=True)


@needs_tinystories
def test_sentencepiece_answer_is_the_token_the_model_writes(story):
    prompt = STORY + " "
    dog = story.token_id("dog", prompt=prompt)
    assert piece(story, dog) == "dog" and story.encode(prompt + "dog")[-1] == dog
    top = int(story.trace(prompt).logits[-1].argmax())
    text = story.tokenizer.decode([top])
    assert story.token_id(text, prompt=prompt) == top  # the model's own next token resolves to itself
    assert story.token_id(".", prompt="She said") == story.tokenizer.convert_tokens_to_ids(".")


@needs_tinystories
def test_the_cli_names_the_tokens_instead_of_printing_an_empty_token():
    out = subprocess.run([sys.executable, "-m", "memory", "inject", "--model", str(TINYSTORIES), "--prompt", STORY,
                          "--memory", " dog", "--answer", " dog", "--layer", "0", "--scale", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    assert "' ', 'dog'" in out.stderr and "P(''" not in out.stdout and "Traceback" not in out.stderr


@needs_tinystories
@pytest.mark.parametrize("page", ["app_pages/impair.py", "app_pages/lens.py"])
def test_pages_say_which_tokens_instead_of_following_a_marker(monkeypatch, page):
    from test_app_helpers import open_app

    monkeypatch.delenv("LENSLAB_WORKSHOP", raising=False)
    at = open_app()
    at.sidebar.text_input(key="model").set_value(str(ROOT / TINYSTORIES))
    at.sidebar.text_area(key="prompt").set_value(STORY)
    at.sidebar.text_input(key="target").set_value(" dog").run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " | ".join(e.value for e in at.error).replace("\\", "")
    assert "' ', 'dog'" in shown and "end the prompt with 'there was a '" in shown
    assert not [i.value for i in at.info if "follow its first token" in i.value]
