"""Where the end-to-end tests find the real TinyStories model and the prompts and stories written for it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Reached from the repository root as ../shared/models/tinystories-656k (a real trained Llama: SentencePiece
# Metaspace tokenizer, grouped-query attention).
TINYSTORIES = ROOT.parent / "shared" / "models" / "tinystories-656k"
PROMPTS = ROOT / "tests" / "data" / "tinystories-prompts"
STORIES = ROOT / "tests" / "data" / "tinystories-stories.txt"

# The one skip the suite allows: the real model lives beside the checkout, not in it.
requires_tinystories = pytest.mark.skipif(not (TINYSTORIES / "config.json").is_file(),
                                          reason="../shared/models/tinystories-656k is not on this machine")
needs_tinystories = [pytest.mark.e2e, requires_tinystories]
