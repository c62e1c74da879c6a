"""Is a bridge memory's repair composition, or a direct push toward the answer?

A memory is a sum of unembedding rows; with tied embeddings it can point at the answer's
own row, and then it raises the answer without any layer composing anything. Controls
that separate the two, each injected at the bridge's own (layer, scale) cell:

- the bridge with the answer's unembedding direction projected out, and with every
  candidate answer's (all entities of the answer's type) projected out;
- the bridge added after the last block (to the final residual, before the final norm),
  where no layer can compose: what it does there is the direct path;
- a control entity of the bridge's type whose memory has the cosine with the answer's
  row closest to the bridge's (a control as aligned with the answer as the bridge is):
  from every entity of that type ("any"; it may itself be a bridge to the same answer, e.g.
  another founder born in the same city), and from those that are not ("other answer").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from engine.engine import Engine
from engine.readout import gain_ratio
from memory.build import build_memory
from memory.errors import MemorySpecError
from memory.evaluate import REPAIR_THRESHOLD, Cell, RepairStats, format_stats, repair_stats
from memory.inject import answer_token_id, inject_run
from memory.intervals import BOOTSTRAP_RESAMPLES, wilson

VARIANTS: tuple[str, ...] = ("bridge", "bridge - answer", "bridge - candidates", "bridge after last block",
                             "control, cos-matched, any", "control, cos-matched, other", "control (shipped)")


def unembedding_rows(engine: Engine, answers: Sequence[str], prompt: str | None = None) -> np.ndarray:
    """``(k, d_model)`` the unembedding rows of the answers' first tokens as predicted after ``prompt``
    (unique, in order; without a prompt, as the answers read mid-prompt)."""
    ids = list(dict.fromkeys(engine.token_id(a, "answer", first=True, prompt=prompt) for a in answers))
    return engine.W_U[:, ids].T.numpy().astype(np.float64)


def project_out(vector: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``(d_model,)`` ``vector`` minus its projection on the span of ``(k, d_model)`` ``directions``."""
    v = np.asarray(vector, dtype=np.float64)
    d = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if d.size == 0:
        return v.astype(np.float32)
    q, _ = np.linalg.qr(d.T)
    return (v - q @ (q.T @ v)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two ``(d,)`` vectors (0 where either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0.0 or nb == 0.0 else float(np.dot(a, b) / (na * nb))


def matched_control(engine: Engine, pool: Sequence[str], answer_row: np.ndarray, target: float,
                    exclude: Sequence[str] = ()) -> tuple[str, float]:
    """The entity of ``pool`` (not in ``exclude``) whose memory's cosine with ``answer_row`` is closest to ``target``."""
    best: tuple[float, str, float] | None = None
    for entity in dict.fromkeys(pool):
        if entity in exclude:
            continue
        c = cosine(build_memory(engine, entity), answer_row)
        if best is None or abs(c - target) < best[0]:
            best = (abs(c - target), entity, c)
    if best is None:
        raise MemorySpecError("no control entity is left once the bridge and answer are excluded; give more prompts")
    return best[1], best[2]


def direct_gain(engine: Engine, prompt: str, vector: np.ndarray, scale: float, answer: str) -> tuple[float, bool]:
    """The answer's gain, and whether it is top-1, with ``scale * vector`` added to the last position's final
    residual (before the final norm): the direct path, which no layer reads."""
    trace = engine.trace(prompt)
    a = answer_token_id(engine, answer, prompt)
    resid = trace.resid[-1, -1] + float(scale) * torch.as_tensor(vector, dtype=torch.float32)
    before = torch.softmax(trace.logits[-1].double(), dim=-1)[a]
    logits = engine.unembed(resid).double()
    after = torch.softmax(logits, dim=-1)[a]
    return gain_ratio(float(before), float(after)), int(logits.argmax()) == a


def _gain(engine: Engine, prompt: str, vector: np.ndarray, cell: Cell, answer: str) -> tuple[float, bool]:
    """Gain of the answer and whether it is top-1 with ``vector`` injected at ``cell``."""
    run = inject_run(engine, prompt, vector, cell[0], cell[1])
    a = answer_token_id(engine, answer, prompt)
    readout = run.readout(1, a)
    return gain_ratio(readout.target_clean, readout.target_mean), int(run.logits[-1].argmax()) == a


@dataclass(frozen=True)
class Decomposition:
    """Per variant (``VARIANTS``), the gains of the same ``n`` prompts at the bridge's cells, plus cosines.

    ``gains``: variant -> ``(n,)``; ``top1``: variant -> ``(n,)`` flags;
    ``cos``: variant -> ``(n,)`` cosine of its memory with the answer's unembedding row (controls and bridge);
    ``matched``: the cosine-matched controls' entities, "any" then "other answer", per prompt.
    """

    gains: dict[str, np.ndarray]
    top1: dict[str, np.ndarray]
    cos: dict[str, np.ndarray]
    matched: tuple[tuple[str, str], ...]

    def stats(self, variant: str) -> RepairStats:
        """Doubled / top-1 counts and median gain of one variant, with 95% intervals."""
        return repair_stats(self.gains[variant], top1=list(self.top1[variant]))


def decompose(engine: Engine, prompts: Sequence, cells: Sequence[Cell], all_prompts: Sequence) -> Decomposition:
    """Inject every variant into each of ``prompts`` (two-hop prompts) at its own cell of ``cells``.

    ``all_prompts`` give the entity pools: candidate answers are the answers, and cosine-matched
    controls the bridges, of the prompts of the same relation.
    """
    if len(cells) != len(prompts):
        raise MemorySpecError(f"{len(cells)} cells for {len(prompts)} prompts; give one cell per prompt")
    gains: dict[str, list[float]] = {v: [] for v in VARIANTS}
    top1: dict[str, list[bool]] = {v: [] for v in VARIANTS}
    cos: dict[str, list[float]] = {}
    matched = []
    for p, cell in zip(prompts, cells):
        vectors, names = _variants(engine, p, [q for q in all_prompts if q.relation == p.relation])
        matched.append(names)
        row = unembedding_rows(engine, [p.answer], p.prompt)[0]
        for variant, vec in vectors.items():
            g, t = _gain(engine, p.prompt, vec, cell, p.answer)
            gains[variant].append(g)
            top1[variant].append(t)
            cos.setdefault(variant, []).append(cosine(vec, row))
        g, t = direct_gain(engine, p.prompt, vectors["bridge"], cell[1], p.answer)
        gains["bridge after last block"].append(g)
        top1["bridge after last block"].append(t)
    return Decomposition({v: np.array(g) for v, g in gains.items()}, {v: np.array(t) for v, t in top1.items()},
                         {v: np.array(c) for v, c in cos.items()}, tuple(matched))


def _variants(engine: Engine, p, same: Sequence) -> tuple[dict[str, np.ndarray], tuple[str, str]]:
    """The memory vectors injected into two-hop prompt ``p`` (``same``: the prompts of its relation)."""
    row = unembedding_rows(engine, [p.answer], p.prompt)[0]
    bridge = build_memory(engine, p.bridge)
    target = cosine(bridge, row)
    pool = [q.bridge for q in same]
    # A bridge of another prompt with the same answer would carry the answer by composition too.
    same_answer = tuple(q.bridge for q in same if q.answer == p.answer)
    any_name, _ = matched_control(engine, pool, row, target, exclude=(p.bridge, p.answer))
    other_name, _ = matched_control(engine, pool, row, target, exclude=(p.bridge, p.answer, *same_answer))
    return {
        "bridge": bridge,
        "bridge - answer": project_out(bridge, row[None]),
        "bridge - candidates": project_out(bridge, unembedding_rows(engine, [q.answer for q in same], p.prompt)),
        "control, cos-matched, any": build_memory(engine, any_name),
        "control, cos-matched, other": build_memory(engine, other_name),
        "control (shipped)": build_memory(engine, p.control),
    }, (any_name, other_name)


def surviving_share(full: np.ndarray, part: np.ndarray, threshold: float = REPAIR_THRESHOLD) -> tuple[int, int, tuple[float, float]]:
    """Of the prompts ``full`` repairs (gain >= threshold), how many ``part`` still repairs: (k, n, Wilson 95%)."""
    repaired = np.asarray(full) >= threshold
    n = int(repaired.sum())
    k = int((np.asarray(part)[repaired] >= threshold).sum())
    return k, n, wilson(k, n)


def log_gain_share(full: np.ndarray, part: np.ndarray, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Median over prompts the bridge helps of log(part gain) / log(full gain), with a 95% bootstrap interval."""
    full, part = np.asarray(full, dtype=np.float64), np.asarray(part, dtype=np.float64)
    keep = full > 1.0
    if not keep.any():
        return float("nan"), (float("nan"), float("nan"))
    share = np.log(np.maximum(part[keep], 1e-300)) / np.log(full[keep])
    rng = np.random.default_rng(seed)
    meds = np.median(share[rng.integers(0, share.size, size=(BOOTSTRAP_RESAMPLES, share.size))], axis=1)
    low, high = np.percentile(meds, [2.5, 97.5])
    return float(np.median(share)), (float(low), float(high))


def format_decomposition(d: Decomposition) -> str:
    """The decomposition as printable lines: one row per variant, then cosines and composition shares."""
    full = d.gains["bridge"]
    lines = [f"{'variant @ bridge cell':<30} {'doubled (95% CI)':<22}  {'became top-1 (95% CI)':<22}  "
             f"{'median gain (95% CI)':<24}  mean ratio"]
    lines += [format_stats(v, d.stats(v)) for v in VARIANTS]
    lines.append("cosine of the memory with the answer's unembedding row (median): "
                 + ", ".join(f"{v} {np.median(c):.2f}" for v, c in d.cos.items()))
    for part in ("bridge - answer", "bridge - candidates", "bridge after last block"):
        k, n, ci = surviving_share(full, d.gains[part])
        med, (lo, hi) = log_gain_share(full, d.gains[part])
        lines.append(f"{part:<24}: keeps {k}/{n} of the bridge's repairs ({k / max(n, 1):.0%}, {ci[0]:.0%}-{ci[1]:.0%}); "
                     f"median share of the bridge's log gain {med:.2f} ({lo:.2f}-{hi:.2f})")
    lines += composition_claims(d)
    return "\n".join(lines)


def composition_claims(d: Decomposition) -> list[str]:
    """Claims about composition, each printed True or False: a variant doubles more prompts than a control,
    their 95% Wilson intervals apart."""
    pairs = (("bridge", "control, cos-matched, other"), ("bridge - candidates", "control (shipped)"),
             ("bridge - candidates", "control, cos-matched, other"), ("bridge", "bridge after last block"))
    out = []
    for a, b in pairs:
        sa, sb = d.stats(a), d.stats(b)
        out.append(f"claim: {a} doubles more prompts than {b} ({sa.n_repaired} vs {sb.n_repaired} of {sa.n}), "
                   f"95% intervals apart: {sb.repaired_ci[1] < sa.repaired_ci[0]}")
    return out
