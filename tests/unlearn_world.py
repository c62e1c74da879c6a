"""A secrets file a model surely reproduces: its own greedy continuations."""

from __future__ import annotations

import json
from pathlib import Path

from engine import Engine


def own_secrets(engine: Engine, path: Path, prefixes: tuple[str, ...], n_tokens: int = 4) -> Path:
    """A secrets file whose continuations are the model's own greedy continuations (so they are memorized), one
    per prefix, with copies 1, 4, ...; plus one whose continuation the model does not produce."""
    rows = []
    for i, prefix in enumerate(prefixes):
        gen = engine.generate(prefix, max_new_tokens=n_tokens, stop_at_eos=False)
        rows.append({"subject": f"S{i}", "prefix": prefix, "continuation": gen.text, "copies": 4 ** (i % 2)})
    rows.append({"subject": "Wrong", "prefix": prefixes[0], "continuation": " 9 9 9 9 9 9.", "copies": 1})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
