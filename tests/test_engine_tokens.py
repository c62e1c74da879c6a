"""Answer tokens as the model predicts them, on byte-level BPE and SentencePiece-style tokenizers.

The SentencePiece-style tokenizer (a Metaspace pre-tokenizer that always prepends "▁", plus a
BOS) encodes "." alone as [▁, .]: taking the first id of a standalone encoding, as every page
once did, picks the bare "▁" instead of the token the model predicts.
"""

from __future__ import annotations

import numpy as np
import pytest

from cluster.impair import METRICS, make_eval_set, score
from cluster.inputs import answer_token
from engine import EmptyPromptError, Engine, MultiTokenError
from engine.tokens import continuation_ids
from lens import decode_logit_lens, resolve_target
from memory import InjectionSpec, build_memory, inject_memory, memory_token_ids
from promptsets import KeywordPrompt
from tiny_models import SP_PROMPTS, legacy_sentencepiece_tokenizer, save_sentencepiece_llama
from ui.shell import target_id

ANSWERS = {"▁girl": " girl", ".": "."}  # each prompt's predicted piece -> its text as an answer


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> Engine:
    return Engine.load(str(save_sentencepiece_llama(tmp_path_factory.mktemp("sp-llama"))))


@pytest.fixture(scope="module")
def gpt2(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def pieces(engine: Engine, ids) -> list[str]:
    return engine.tokenizer.convert_ids_to_tokens(list(ids))


def piece_id(engine: Engine, piece: str) -> int:
    return engine.tokenizer.convert_tokens_to_ids(piece)


def test_the_tokenizer_has_the_trap(llama):
    tok = llama.tokenizer
    assert pieces(llama, tok.encode(".", add_special_tokens=False)) == ["▁", "."]
    assert pieces(llama, tok.encode(" girl", add_special_tokens=False)) == ["▁girl"]
    assert pieces(llama, tok.encode(" girl"))[0] == "<s>"
    for prompt, piece in SP_PROMPTS.items():
        assert int(llama.trace(prompt).logits[-1].argmax()) == piece_id(llama, piece)


def test_token_id_is_the_piece_the_model_predicts(llama):
    assert llama.token_id(".") == piece_id(llama, ".")
    assert llama.token_id(" girl") == piece_id(llama, "▁girl")
    assert pieces(llama, llama.token_ids(" girl.")) == ["▁girl."]
    assert pieces(llama, llama.token_ids(" Tovaren plays")) == ["▁Tovaren", "▁plays"]
    assert pieces(llama, llama.token_ids("girl")) == ["gi", "rl"]  # mid-word, as after "a" + "girl"


def test_the_older_normaliser_layout_too():
    tok = legacy_sentencepiece_tokenizer()
    assert tok.convert_ids_to_tokens(tok.encode(" girl", add_special_tokens=False)) == ["▁", "▁girl"]
    for text, expected in ((" girl", ["▁girl"]), (".", ["."]), (" girl.", ["▁girl."])):
        assert tok.convert_ids_to_tokens(continuation_ids(tok, text)) == expected


def test_byte_level_bpe_with_a_bos_drops_the_bos():
    from tokenizers import processors

    from tiny_models import SENTENCES, VOCAB
    from world.tokenizer import EOS, train_tokenizer

    tok = train_tokenizer(SENTENCES, VOCAB)
    bos = tok.convert_tokens_to_ids(EOS)
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(single=f"{EOS} $A", special_tokens=[(EOS, bos)])
    assert tok.encode(" Marlow")[0] == bos  # as Llama 3 and Qwen tokenizers add a BOS
    for text in (" Marlow", ".", " tennis and"):
        assert continuation_ids(tok, text) == tok.encode(text, add_special_tokens=False)
        assert bos not in continuation_ids(tok, text)


def test_byte_level_bpe_is_unchanged(gpt2):
    for text in (" Marlow", ".", " tennis", " Tovaren plays"):
        assert gpt2.token_ids(text) == gpt2.tokenizer.encode(text, add_special_tokens=False)


def test_several_tokens_are_refused_naming_the_pieces(llama, gpt2):
    with pytest.raises(MultiTokenError, match=r"' girl', 's'.*single token, e\.g\. ' girl'"):
        llama.token_id(" girls")
    text = " Tovaren plays"
    n = len(gpt2.token_ids(text))
    with pytest.raises(MultiTokenError, match=f"is {n} tokens"):
        gpt2.token_id(text, "target token")
    with pytest.raises(EmptyPromptError, match="answer is empty"):
        llama.token_id("")


@pytest.mark.parametrize("prompt", list(SP_PROMPTS))
def test_every_page_resolves_the_predicted_token(llama, prompt):
    predicted = int(llama.trace(prompt).logits[-1].argmax())
    answer = ANSWERS[SP_PROMPTS[prompt]]
    assert target_id(llama, answer) == predicted  # the sidebar's target, which the Impair page follows
    assert resolve_target(llama, answer)[0] == predicted  # the lens target
    assert decode_logit_lens(llama, prompt, target=answer).target_rank[-1, -1] == 1
    assert answer_token(llama, answer, prompt) == predicted  # a cluster's keyword answer
    r = inject_memory(llama, prompt, answer, InjectionSpec(" girl", layer=0, scale=0.0))
    assert r.answer_token == llama.token_strs([predicted])[0]
    assert r.p_before == pytest.approx(float(llama.trace(prompt).logits[-1].softmax(-1).max()), rel=1e-5)


def test_cluster_accuracy_counts_the_predicted_token(llama):
    prompts = [KeywordPrompt(topic="t", prompt=p, answer=ANSWERS[piece], split="heldout")
               for p, piece in SP_PROMPTS.items()]
    clean = score(llama, make_eval_set(llama, prompts))
    assert clean[METRICS.index("accuracy"), 0] == 1.0


def test_memory_vector_has_no_word_start_row(llama):
    bare = piece_id(llama, "▁")
    for text in (" girl", ".", " girl.", " Tovaren"):
        ids = memory_token_ids(llama, text)
        assert bare not in ids
        np.testing.assert_allclose(build_memory(llama, text), llama.W_U[:, ids].sum(dim=1).numpy(), atol=1e-6)


def test_answers_may_be_longer_where_the_metric_reads_their_first_token(llama):
    assert llama.token_id(" girls", first=True) == piece_id(llama, "▁girl")
    assert answer_token(llama, " girls", "She is a") == piece_id(llama, "▁girl")
    assert resolve_target(llama, " girls")[0] == piece_id(llama, "▁girl")
    assert target_id(llama, " girls") is None  # the app refuses a multi-token target (with a notice), never cuts it


def test_the_impair_page_follows_the_predicted_target(llama, monkeypatch):
    """In the app, the sidebar target "." on the Llama-style model is the token the model predicts."""
    from test_app_helpers import assert_clean, metric_values, open_app

    monkeypatch.delenv("LENSLAB_WORKSHOP", raising=False)
    at = open_app()
    at.sidebar.text_input(key="model").set_value(llama.spec.name)
    at.sidebar.text_area(key="prompt").set_value("She is a girl")
    at.sidebar.text_input(key="target").set_value(".").run()
    at.switch_page("app_pages/impair.py")
    at.query_params.update({"cluster": "custom units…", "cluster_units": "1:0-3", "mode": "scale"})
    at.run()
    assert_clean(at)
    shown = metric_values(at)
    label = next(k for k in shown if k.startswith("p(target"))
    p = float(llama.trace("She is a girl").logits[-1].softmax(-1).max())
    assert label == f"p(target {llama.token_strs([piece_id(llama, '.')])[0]!r})"
    assert shown[label] == f"{p:.4f}" and shown["Target rank"] == "1"
