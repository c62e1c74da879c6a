"""Retrain a world's model without some corpus lines (the world's own recipe and shipped tokenizer), then probe it;
and the long commands' work in an output folder.

Conditions: ``control`` (every line, the same steps), ``attributed`` (without the lines of the top-k
attributed sentences) and ``random`` (without as many lines drawn at random). Each is probed like the
shipped model, so the layer where the concept appears, its accuracy and its sparsity can be compared, one
line per retrain (:func:`format_retrain`).

The output folder holds an identity file, rows written as they finish, and resume.
``attribution.csv`` / ``attribution_summary.csv`` are written once attribution ends (a rerun with the same
identity reads them back instead of recomputing); ``retrain.csv`` gains one row per finished retrain, and a
rerun retrains only the conditions it lacks.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm
from transformers import AutoTokenizer

from engine import Engine
from probe.attribute import METHODS, AttributionSpec, attribute_probe, attribution_rows, pick_targets
from probe.concepts import ProbeError
from probe.fit import ProbeReport, probe_concept
from sweeps.identity import check_identity, digest, engine_identity, write_identity
from sweeps.rows import RowAppender, read_rows, rewrite_rows
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


def format_retrain(outcomes: list[RetrainOutcome]) -> str:
    """One line per retrain."""
    lines = ["condition\tlines dropped\tsteps\tseconds\tappears\tacc at site\t95% interval\ttarget acc\tunits"]
    for o in outcomes:
        lines.append(f"{o.condition}\t{o.dropped}\t{o.steps}\t{o.seconds:.0f}\t{o.appears}\t{o.site} {o.acc:.3f}\t"
                     f"[{o.lo:.3f}, {o.hi:.3f}]\t{o.target_acc:.3f}\t{o.sparse_units}")
    return "\n".join(lines)


IDENTITY = "probe_identity.json"
FRESH = "delete that folder"


def spec_of(args: argparse.Namespace) -> AttributionSpec:
    """The attribution settings of the flags."""
    return AttributionSpec(args.targets, args.others, args.k, args.proj_dim, args.ridge, args.seed)


def _identity(args: argparse.Namespace, engine, site_label: str) -> dict:
    files = {"concepts": args.concepts, "corpus": args.corpus, "facts": args.facts}
    return {"engine": engine_identity(engine), "concept": args.concept, "site": site_label,
            "spec": asdict(spec_of(args)),
            "files": {k: digest(Path(v).read_text(encoding="utf-8")) for k, v in files.items()}}


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def summary_rows(att) -> list[dict]:
    """Precision@k per method with its interval, the pool's size and its share of true pairs."""
    return [{"method": m, "precision": round(p, 4), "lo": round(lo, 4), "hi": round(hi, 4), "k": att.k,
             "targets": len(att.targets), "pool": len(att.pool), "base_rate": round(float(att.truth.mean()), 4),
             "ridge": att.ridge}
            for m in METHODS for p, lo, hi in [att.precision(m)]]


def format_summary(rows: list[dict], concept: str) -> str:
    """The summary rows as text."""
    first = rows[0]
    lines = [f"attribution for {concept}: {first['targets']} held-out subjects, a pool of {first['pool']} sentences "
             f"(base rate {float(first['base_rate']):.3f}, TRAK ridge {float(first['ridge']):g}), precision@{first['k']}", "method\tprecision\t95% interval"]
    lines += [f"{r['method']}\t{float(r['precision']):.3f}\t[{float(r['lo']):.3f}, {float(r['hi']):.3f}]" for r in rows]
    return "\n".join(lines)


def attribution_for(args: argparse.Namespace, engine, report, bars) -> tuple[list[dict], str]:
    """The attribution rows and summary text for the flags, computed or read back from ``args.out``."""
    site = getattr(args, "site_obj", None) or report.best
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    identity = _identity(args, engine, site.label)
    rows_path, summary_path = out / "attribution.csv", out / "attribution_summary.csv"
    check_identity(out, identity, IDENTITY, ProbeError, rows_path, FRESH)
    write_identity(out, identity, IDENTITY)
    if rows_path.is_file() and summary_path.is_file():
        return _read_csv(rows_path), format_summary(_read_csv(summary_path), args.concept)
    att = attribute_probe(engine, report.data, report.probes[site], args.corpus, args.facts, spec_of(args), bars)
    rows, summary = attribution_rows(att), summary_rows(att)
    rewrite_rows(summary_path.with_suffix(".part"), list(summary[0]), summary)
    rewrite_rows(rows_path, list(rows[0]), rows)
    summary_path.with_suffix(".part").replace(summary_path)
    return rows, format_summary(summary, args.concept)


def attributed_lines(rows: list[dict], method: str = "trak") -> set[int]:
    """Corpus lines holding every target's top-k sentences by ``method`` (every copy of each)."""
    return {int(line) for r in rows if r["method"] == method for line in r["lines"].split()}


def retrain_all(args: argparse.Namespace, engine, shipped, bars) -> str:
    """Retrain each condition not yet in ``args.out/retrain.csv`` and return the table of all of them."""
    rows, summary = attribution_for(args, engine, shipped, bars)
    drops = {"control": set(), "attributed": attributed_lines(rows)}
    n_lines = len(Path(args.corpus).read_text(encoding="utf-8").split("\n")) - 1
    drops["random"] = random_lines(n_lines, len(drops["attributed"]), args.seed, drops["attributed"])
    config = recipe(Path(args.model), args.steps)
    columns = list(RetrainOutcome.__dataclass_fields__)
    path = Path(args.out) / "retrain.csv"
    stored = read_rows(path, columns)
    rewrite_rows(path, columns, stored.rows)
    done = {r["condition"] for r in stored.rows if int(r["steps"]) == config.steps}
    targets = pick_targets(shipped.data, args.targets, args.seed)
    with RowAppender(path, columns) as out:
        for condition in [c for c in args.conditions if c not in done]:
            bar = tqdm(total=config.steps, desc=f"retraining ({condition})", leave=False)
            outcome = run_condition(condition, Path(args.model), args.corpus, args.concepts, args.concept,
                                    drops[condition], config, shipped, targets, args.seed,
                                    lambda step, total, loss: bar.update(1))
            bar.close()
            out.write(asdict(outcome))
    got = [RetrainOutcome(**_typed(r)) for r in read_rows(path, columns).rows if int(r["steps"]) == config.steps]
    base = _shipped_outcome(shipped, targets, engine)
    return summary + "\n\n" + format_retrain([base] + got)


def _typed(row: dict) -> dict:
    out = dict(row)
    for k in ("dropped", "steps"):
        out[k] = int(row[k])
    for k in ("seconds", "acc", "lo", "hi", "target_acc", "majority"):
        out[k] = float(row[k])
    out["sparse_units"] = int(row["sparse_units"]) if row["sparse_units"] not in ("", "None") else None
    return out


def _shipped_outcome(report, targets: list[int], engine) -> RetrainOutcome:
    """The shipped model's figures in a retrain row's shape (nothing dropped, not retrained)."""
    site = report.best
    score, probe = report.score(site), report.probes[site]
    x = np.stack([(engine.trace(report.data.prompts[i]).resid[site.layer + 1, -1] if site.kind == "resid"
                   else engine.trace(report.data.prompts[i]).mlp[site.layer, -1]).numpy() for i in targets])
    want = [probe.classes.index(report.data.labels[i]) for i in targets]
    return RetrainOutcome("shipped", 0, 0, 0.0, report.appears.label if report.appears else "none", site.label,
                          score.acc, score.lo, score.hi, float((probe.predict(x) == want).mean()),
                          report.sparse_units, report.majority_acc)
