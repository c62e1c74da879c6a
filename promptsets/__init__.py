"""Prompt sets every package reads: their schema, JSONL loaders, and where the shipped demo lives.

A leaf of the package graph: it imports only the engine's error root, so lens, cluster,
memory, compare, the demo builder (world) and the app may all import it.

    from promptsets import DEMO_PROMPTS, load_keyword_prompts
    prompts = load_keyword_prompts(DEMO_PROMPTS)
"""

from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_LENSES, DEMO_PROMPTS, REPO_ROOT
from promptsets.schema import (FACTS_FILE, KEYWORDS_FILE, TWO_HOP_FILE, FactPrompt, KeywordPrompt,
                               PromptSetError, TwoHopPrompt, load_fact_prompts, load_keyword_prompts,
                               load_two_hop_prompts, write_jsonl)

__all__ = [
    "DEMO_CLUSTERS", "DEMO_DIR", "DEMO_LENSES", "DEMO_PROMPTS", "FACTS_FILE", "FactPrompt", "KEYWORDS_FILE",
    "KeywordPrompt", "PromptSetError", "REPO_ROOT", "TWO_HOP_FILE", "TwoHopPrompt", "load_fact_prompts",
    "load_keyword_prompts", "load_two_hop_prompts", "write_jsonl",
]
