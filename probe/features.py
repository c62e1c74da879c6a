"""Each prompt's last-token activations at every probe site, read through the Engine's clean trace."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from engine import Engine
from probe.sites import Site, all_sites


def last_token_features(engine: Engine, prompts: Sequence[str],
                        progress: Callable[[int, int], None] | None = None) -> dict[Site, np.ndarray]:
    """Site -> ``(n_prompts, d_model)`` float32 activations at each prompt's last token.

    resid at layer -1 is the trace's resid_pre of block 0 (the embeddings); resid at layer l its
    resid_post of block l (before the final norm); mlp_out at l the MLP's output.
    """
    n_layers = engine.spec.n_layers
    rows: dict[Site, list[np.ndarray]] = {s: [] for s in all_sites(n_layers)}
    for i, prompt in enumerate(prompts):
        trace = engine.trace(prompt)
        for site in rows:
            if site.kind == "resid":
                rows[site].append(trace.resid[site.layer + 1, -1].numpy())
            else:
                rows[site].append(trace.mlp[site.layer, -1].numpy())
        if progress is not None:
            progress(i + 1, len(prompts))
    return {s: np.stack(v).astype(np.float32) for s, v in rows.items()}
