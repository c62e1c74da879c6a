"""The claims' new token handling on a real Llama with a SentencePiece-style (Metaspace) tokenizer.

The current-token table keys on input token ids and the memory decomposition reads the answer's
first token as the engine resolves it (``Engine.token_id``), whatever the tokenizer does with
word starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import Engine
from lens.baselines import fit_token_table, table_kl
from lens.evaluate import constant_kl, mean_final_distribution
from memory.evaluate import cosine, direct_gain, project_out, unembedding_rows
from memory.inject import build_memory
from tinystories import TINYSTORIES, requires_tinystories

MODEL = TINYSTORIES
pytestmark = requires_tinystories
TEXTS = ["Once upon a time, there was a little girl named Lily.", "Lily liked to play with her ball in the park.",
         "One day, Tom saw a big dog.", "The dog was happy and they played all day."]


@pytest.fixture(scope="module")
def llama() -> Engine:
    return Engine.load(str(MODEL))


def test_table_beats_the_constant_on_its_own_text_with_a_metaspace_tokenizer(llama):
    table = fit_token_table(llama, TEXTS)
    assert table_kl(llama, TEXTS, table) <= constant_kl(llama, TEXTS, mean_final_distribution(llama, TEXTS)) + 1e-6


def test_answer_rows_follow_the_engines_answer_token_and_project_out_cleanly(llama):
    """One row per distinct answer token as ``Engine.token_id`` resolves it; none survives the projection."""
    # Metaspace writes a word's space onto the word before it: the prompt ends with the space, answers are bare words.
    prompt, answers = "Once upon a time, there was a little girl named ", ["Lily", "Tom", "dog"]
    ids = list(dict.fromkeys(llama.token_id(a, first=True, prompt=prompt) for a in answers))
    rows = unembedding_rows(llama, answers, prompt)
    assert rows.shape == (len(ids), llama.spec.d_model)
    np.testing.assert_allclose(rows, llama.W_U[:, ids].T.numpy(), atol=1e-6)
    out = project_out(build_memory(llama, " Lily"), rows)
    assert max(abs(cosine(out, r)) for r in rows) < 1e-4


def test_direct_path_is_the_identity_at_scale_zero_on_a_llama(llama):
    gain, _ = direct_gain(llama, "Once upon a time, there was a little girl named ", build_memory(llama, " Lily"),
                          0.0, "Lily")
    assert gain == pytest.approx(1.0, abs=1e-5)
