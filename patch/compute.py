"""Patch every site of one prompt with another prompt's activations and measure the gap restored.

Two prompts of the same token length: a *clean* one (its answer is ``clean_answer``) and a
*corrupted* one (another subject, another answer). The metric is the logit difference of the
two answers at the last position (``logit_diff``), or the probability of the clean answer
(``prob``). A site's score is the share of the clean-vs-corrupted gap its patched run shows:

    share = (metric(patched run) - metric(corrupted)) / (metric(clean) - metric(corrupted))

so 0 is the corrupted run's value and 1 the clean run's, in both directions:

    denoise: the clean activation patched into the corrupted run (1 = this site alone restores clean);
    noise:   the corrupted activation patched into the clean run (0 = this site alone breaks it).

Sites: the residual stream entering each block at each position, each head's output at the
last position, each MLP's output at each position. Each row of a heatmap (one layer) is one
batched forward through ``Engine.run_batch``, every site of the row a run of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from engine import Engine, RunResult
from engine.interventions import Patch
from patch.errors import PatchError

Metric = Literal["logit_diff", "prob"]
Direction = Literal["denoise", "noise"]
METRICS: tuple[str, ...] = ("logit_diff", "prob")
DIRECTIONS: tuple[str, ...] = ("denoise", "noise")
# Below this gap the shares are noise over noise: the prompts must disagree on the metric.
MIN_GAP = 1e-6


@dataclass(frozen=True)
class PatchSpec:
    """What to patch: the two prompts, their answers, the metric and the direction."""

    clean: str
    corrupted: str
    clean_answer: str
    corrupted_answer: str | None = None
    metric: Metric = "logit_diff"
    direction: Direction = "denoise"


@dataclass(frozen=True, eq=False)
class PatchResult:
    """Shares of the clean-vs-corrupted gap restored per site (0 = corrupted, 1 = clean).

    resid: ``(n_layers, pos)`` resid_pre of each block at each position.
    heads: ``(n_layers, n_heads)`` each head's output at the last position.
    mlp:   ``(n_layers, pos)`` each MLP's output at each position.
    labels / corrupted_labels: ``"i: token"`` per position of each prompt.
    """

    spec: PatchSpec
    clean_metric: float
    corrupted_metric: float
    resid: np.ndarray
    heads: np.ndarray
    mlp: np.ndarray
    labels: tuple[str, ...]
    corrupted_labels: tuple[str, ...]
    answer_tokens: tuple[str, ...]


def _check(spec: PatchSpec) -> None:
    if spec.metric not in METRICS:
        raise PatchError(f"unknown metric {spec.metric!r}; choose one of {', '.join(METRICS)}")
    if spec.direction not in DIRECTIONS:
        raise PatchError(f"unknown direction {spec.direction!r}; choose one of {', '.join(DIRECTIONS)}")
    if spec.metric == "logit_diff" and not (spec.corrupted_answer or "").strip():
        raise PatchError("the logit difference needs the corrupted prompt's answer too; type it, "
                         "or choose the metric 'prob'")


def _answers(engine: Engine, spec: PatchSpec) -> tuple[int, int | None]:
    """Token ids of the clean answer and (for logit_diff) the corrupted answer; they must differ."""
    good = engine.token_id(spec.clean_answer, "clean answer", first=True, prompt=spec.clean)
    if spec.metric != "logit_diff":
        return good, None
    bad = engine.token_id(spec.corrupted_answer or "", "corrupted answer", first=True, prompt=spec.corrupted)
    if bad == good:
        raise PatchError(f"both answers start with the same token {engine.token_strs([good])[0]!r}; "
                         "the logit difference needs two different answers")
    return good, bad


def metric_of(logits: torch.Tensor, good: int, bad: int | None) -> float:
    """``logits``: ``(d_vocab,)`` -> the metric: logit(good) - logit(bad), or p(good) when ``bad`` is None."""
    if bad is None:
        return float(torch.softmax(logits.double(), dim=-1)[good])
    return float(logits[good].double() - logits[bad].double())


def _labels(engine: Engine, ids: list[int]) -> tuple[str, ...]:
    return tuple(f"{i}: {t!r}" for i, t in enumerate(engine.token_strs(ids)))


def _row(engine: Engine, target: str, runs: list[list[Patch]], good: int, bad: int | None) -> list[float]:
    """The metric of each run (one batched forward)."""
    results: list[RunResult] = engine.run_batch(target, runs)
    return [metric_of(r.logits[0], good, bad) for r in results]


def site_patches(source, layer: int, n_pos: int, n_heads: int) -> dict[str, list[Patch]]:
    """The single-site patches of one layer, from ``source`` (the other prompt's :class:`Trace`)."""
    last = n_pos - 1
    return {
        "resid": [Patch.from_tensor(layer, "resid_pre", (p,), source.resid[layer, p:p + 1]) for p in range(n_pos)],
        "heads": [Patch.from_tensor(layer, "head", (last,), source.z[layer, last:, h], head=h) for h in range(n_heads)],
        "mlp": [Patch.from_tensor(layer, "mlp_out", (p,), source.mlp[layer, p:p + 1]) for p in range(n_pos)],
    }


def patch_sites(engine: Engine, spec: PatchSpec) -> PatchResult:
    """Patch every resid_pre (layer x position), head (layer x head, last position) and MLP output
    (layer x position) from one prompt into the other (see the module docstring for the shares).

    Raises PatchError for prompts of different token lengths, equal answers, or no gap.
    """
    _check(spec)
    clean_ids, bad_ids = engine.encode(spec.clean), engine.encode(spec.corrupted)
    if len(clean_ids) != len(bad_ids):
        raise PatchError(
            f"the clean prompt is {len(clean_ids)} tokens and the corrupted one {len(bad_ids)}; patching "
            "matches them position by position, so give prompts of the same token length")
    good, bad = _answers(engine, spec)
    clean_m = metric_of(engine.trace(spec.clean).logits[-1], good, bad)
    bad_m = metric_of(engine.trace(spec.corrupted).logits[-1], good, bad)
    gap = clean_m - bad_m
    if abs(gap) < MIN_GAP:
        raise PatchError(f"the clean and corrupted prompts give the same {spec.metric} ({clean_m:.4g}); "
                         "nothing to restore: pick prompts the model answers differently")
    target, source = (spec.corrupted, spec.clean) if spec.direction == "denoise" else (spec.clean, spec.corrupted)
    trace = engine.trace(source)
    n_layers, n_pos = engine.spec.n_layers, len(clean_ids)
    grids = {"resid": [], "heads": [], "mlp": []}
    for layer in range(n_layers):
        for name, runs in site_patches(trace, layer, n_pos, engine.spec.n_heads).items():
            grids[name].append(_row(engine, target, [[p] for p in runs], good, bad))
    share = {name: (np.asarray(rows, dtype=np.float64) - bad_m) / gap for name, rows in grids.items()}
    answers = engine.token_strs([good] if bad is None else [good, bad])
    return PatchResult(spec=spec, clean_metric=clean_m, corrupted_metric=bad_m, resid=share["resid"],
                       heads=share["heads"], mlp=share["mlp"], labels=_labels(engine, clean_ids),
                       corrupted_labels=_labels(engine, bad_ids), answer_tokens=tuple(answers))
