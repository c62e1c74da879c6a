"""Per-layer CKA: a model against its impaired self, or two models that share a tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from compare.cka import linear_cka
from compare.errors import CompareError, TokenizerMismatchError
from engine.engine import Engine
from engine.trace import ACTIVATION_SITES

# The engine's activation sites, resid_post first (the default view).
COMPARE_SITES: tuple[str, ...] = ("resid_post", *(s for s in ACTIVATION_SITES if s != "resid_post"))


@dataclass(frozen=True)
class CkaResult:
    """``cka[l]``: linear CKA between clean and impaired activations at ``site`` of layer l, ``(n_layers,)``."""

    cka: np.ndarray
    site: str
    n_positions: int


@dataclass(frozen=True)
class ModelCkaResult:
    """``cka[i, j]``: CKA between model A's layer i and model B's layer j at ``site``, ``(n_layers_a, n_layers_b)``."""

    cka: np.ndarray
    site: str
    name_a: str
    name_b: str
    n_positions: int


def _numpy(x: Any) -> np.ndarray:
    """A torch tensor or array-like -> float64 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_site(site: str) -> None:
    if site not in COMPARE_SITES:
        raise CompareError(f"unknown site {site!r}; choose one of {', '.join(COMPARE_SITES)}")


def _clean_stack(engine: Engine, prompt: str, site: str) -> np.ndarray:
    """``(n_layers, pos, width)`` clean activations at ``site`` from the engine's cached trace."""
    return _numpy(engine.trace(prompt).stack(site))


def cka_clean_vs_impaired(engine: Engine, prompts: Sequence[str], interventions: Sequence, site: str = "resid_post") -> CkaResult:
    """CKA per layer between clean and impaired activations, positions of all ``prompts`` pooled.

    Noise interventions use the engine's first sample, so the result is reproducible per seed.
    """
    _check_site(site)
    if not prompts:
        raise CompareError("no prompt to compare on; type a prompt in the sidebar")
    clean = [_clean_stack(engine, p, site) for p in prompts]
    impaired = [_numpy(engine.run_activations(p, list(interventions), site)) for p in prompts]
    x = np.concatenate(clean, axis=1)
    y = np.concatenate(impaired, axis=1)
    cka = np.array([linear_cka(x[layer], y[layer]) for layer in range(x.shape[0])])
    return CkaResult(cka=cka, site=site, n_positions=int(x.shape[1]))


def check_same_tokenizer(engine_a: Engine, engine_b: Engine) -> None:
    """Raise TokenizerMismatchError unless both engines map text to the same token ids."""
    vocab_a, vocab_b = engine_a.tokenizer.get_vocab(), engine_b.tokenizer.get_vocab()
    if vocab_a != vocab_b:
        raise TokenizerMismatchError(
            f"{engine_a.spec.name} and {engine_b.spec.name} use different tokenizers "
            f"({len(vocab_a)} vs {len(vocab_b)} tokens); CKA pairs positions, so pick two models of one family"
        )


def cka_between_models(engine_a: Engine, engine_b: Engine, prompts: Sequence[str], site: str = "resid_post") -> ModelCkaResult:
    """CKA between every layer of model A and every layer of model B on the same tokens."""
    _check_site(site)
    check_same_tokenizer(engine_a, engine_b)
    if not prompts:
        raise CompareError("no prompt to compare on; type a prompt in the sidebar")
    for p in prompts:
        if engine_a.encode(p) != engine_b.encode(p):
            raise TokenizerMismatchError(f"the two models split {p!r} into different tokens; pick two models of one family")
    a = np.concatenate([_clean_stack(engine_a, p, site) for p in prompts], axis=1)
    b = np.concatenate([_clean_stack(engine_b, p, site) for p in prompts], axis=1)
    cka = np.array([[linear_cka(a[i], b[j]) for j in range(b.shape[0])] for i in range(a.shape[0])])
    return ModelCkaResult(cka=cka, site=site, name_a=engine_a.spec.name, name_b=engine_b.spec.name,
                          n_positions=int(a.shape[1]))
