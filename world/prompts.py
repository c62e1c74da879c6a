"""The prompt-set schema and loaders now live in :mod:`promptsets`; this name stays for existing imports."""

from promptsets.schema import (FACTS_FILE, KEYWORDS_FILE, TWO_HOP_FILE, FactPrompt, KeywordPrompt,  # noqa: F401
                               PromptSetError, TwoHopPrompt, load_fact_prompts, load_keyword_prompts,
                               load_two_hop_prompts, write_jsonl)
