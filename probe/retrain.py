"""Retrain a world's model without some corpus lines (the world's own recipe and shipped tokenizer), then probe it.

Conditions: ``control`` (every line, the same steps), ``attributed`` (without the lines of the top-k
attributed sentences) and ``random`` (without as many lines drawn at random). Each is probed like the
shipped model, so the layer where the concept appears, its accuracy and its sparsity can be compared.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from transformers import AutoTokenizer

from engine import Engine
from probe.errors import ProbeError
from probe.report import ProbeReport, probe_concept
from world.config import ModelConfig
from world.train import pack_corpus, train_model

CONDITIONS = ("control", "attributed", "random")


@dataclass(frozen=True)
class RetrainOutcome:
    """One retrain: its condition, lines dropped, steps, seconds, and the probe figures of the retrained model.

    acc / lo / hi: held-out accuracy at ``site`` (the shipped model's best resid site); target_acc: the same
    probe's accuracy on the attribution targets alone (the subjects whose sentences were removed).
    """

    condition: str
    dropped: int
    steps: int
    seconds: float
    appears: str
    site: str
    acc: float
    lo: float
    hi: float
    target_acc: float
    sparse_units: int | None
    majority: float


def recipe(model_dir: Path, steps: int | None) -> ModelConfig:
    """The world's ModelConfig from ``model_dir/world.json`` (the defaults without it), ``steps`` if given."""
    config = ModelConfig()
    header = Path(model_dir) / "world.json"
    if header.is_file():
        stored = json.loads(header.read_text(encoding="utf-8")).get("model", {})
        known = {k: v for k, v in stored.items() if k in ModelConfig.__dataclass_fields__}
        config = ModelConfig(**known)
    return replace(config, steps=steps) if steps else config


def random_lines(n_lines: int, count: int, seed: int, avoid: set[int] = frozenset()) -> set[int]:
    """``count`` corpus line numbers drawn (seeded) from ``range(n_lines)`` outside ``avoid``."""
    pool = [i for i in range(n_lines) if i not in avoid]
    return set(random.Random(seed + 11).sample(pool, min(count, len(pool))))


def retrain(model_dir: Path, corpus: Path, drop: set[int], config: ModelConfig,
            progress: Callable[[int, int, float], None] | None = None) -> Engine:
    """An Engine on a model trained by ``config`` on ``corpus`` without the lines ``drop``, with the shipped tokenizer."""
    if config.steps < 1:
        raise ProbeError("--steps must be at least 1")
    docs = [d for i, d in enumerate(Path(corpus).read_text(encoding="utf-8").split("\n")[:-1]) if i not in drop]
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    tokens = pack_corpus(tokenizer, docs)
    model = train_model(config, tokens, len(tokenizer), tokenizer.eos_token_id, progress)
    return Engine(model, tokenizer, name=f"retrained without {len(drop)} lines")


def run_condition(condition: str, model_dir: Path, corpus: Path, concepts: Path, concept: str, drop: set[int],
                  config: ModelConfig, shipped: ProbeReport, target_rows: list[int], seed: int = 0,
                  progress: Callable[[int, int, float], None] | None = None) -> RetrainOutcome:
    """Retrain without ``drop``, probe ``concept`` on the new model, and gather the figures."""
    started = time.perf_counter()
    engine = retrain(model_dir, corpus, drop, config, progress)
    seconds = time.perf_counter() - started
    report = probe_concept(engine, concepts, concept, seed)
    site = shipped.best
    score, probe = report.score(site), report.probes[site]
    feats = [engine.trace(report.data.prompts[i]) for i in target_rows]
    x = [(t.resid[site.layer + 1, -1] if site.kind == "resid" else t.mlp[site.layer, -1]).numpy() for t in feats]
    want = [probe.classes.index(report.data.labels[i]) for i in target_rows]
    target_acc = float((probe.predict(np.stack(x)) == want).mean()) if target_rows else float("nan")
    return RetrainOutcome(condition, len(drop), config.steps, seconds,
                          report.appears.label if report.appears else "none", site.label, score.acc, score.lo,
                          score.hi, target_acc, report.sparse_units, report.majority_acc)
