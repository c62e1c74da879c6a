"""Concept probes on the demo: where each concept appears, how well and how sparsely, which training sentences
TRAK credits for it (against gradient similarity and random, scored by corpus_facts.tsv), and retraining without them.

Run: .venv/bin/python bench/probe.py [--concepts role,sport,style,industry,country] [--retrain-concept role]
     [--steps 400] [--targets 8] [--k 10]
Prints per concept the figures with 95% Wilson intervals, then the retrains (each timed), then claims as True/False.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Engine  # noqa: E402
from probe.attribute import METHODS, AttributionSpec, attribute_probe, pick_targets  # noqa: E402
from probe.fit import probe_concept  # noqa: E402
from probe.retrain import format_retrain, random_lines, recipe, run_condition  # noqa: E402
from promptsets.paths import DEMO_DIR  # noqa: E402


def iv(p: float, lo: float, hi: float) -> str:
    return f"{p:.3f} [{lo:.3f}, {hi:.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=str(DEMO_DIR))
    ap.add_argument("--concepts", default="role,sport,style,industry,country")
    ap.add_argument("--concepts-file", default=None, help="labelled subjects (default MODEL/prompts/concepts.jsonl)")
    ap.add_argument("--retrain-concept", default="role", help="the concept of the retrains; 'none' skips them")
    ap.add_argument("--steps", type=int, default=400, help="steps of each retrain (the recipe's is 2200)")
    ap.add_argument("--targets", type=int, default=8)
    ap.add_argument("--others", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--proj-dim", type=int, default=2048)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = Path(args.model)
    concepts_file = Path(args.concepts_file) if args.concepts_file else model / "prompts" / "concepts.jsonl"
    engine = Engine.load(model)
    spec = AttributionSpec(args.targets, args.others, args.k, args.proj_dim)
    reports, atts = {}, {}
    for concept in args.concepts.split(","):
        started = time.perf_counter()
        r = reports[concept] = probe_concept(engine, concepts_file, concept)
        a = atts[concept] = attribute_probe(engine, r.data, r.probes[r.best], model / "corpus.txt",
                                            model / "corpus_facts.tsv", spec)
        best = r.score(r.best)
        print(f"== {concept}: {len(r.data.classes)} labels, {len(r.data.index('train'))} train / "
              f"{len(r.data.index('heldout'))} held-out subjects ({time.perf_counter() - started:.0f} s)")
        print(f"  appears at: {r.appears.label if r.appears else 'none'} (mlp_out: "
              f"{r.appears_mlp.label if r.appears_mlp else 'none'})")
        print(f"  best site {r.best.label}: accuracy {iv(best.acc, best.lo, best.hi)}; shuffled labels "
              f"{iv(best.shuffled, best.shuffled_lo, best.shuffled_hi)}; majority "
              f"{iv(r.majority_acc, r.majority_lo, r.majority_hi)}")
        print("  resid per layer: " + ", ".join(f"{s.site.label.split()[1]} {s.acc:.2f}" for s in r.scores
                                                 if s.site.kind == "resid"))
        print(f"  sparsity: {r.sparse_units} units recover 90% of the L1 path's gain over the majority "
              f"(of {r.path[-1].units} kept at the weakest L1)")
        print(f"  attribution ({len(a.targets)} held-out subjects, pool {len(a.pool)} sentences, base rate "
              f"{a.truth.mean():.3f}; TRAK ridge {a.ridge:g}, chosen on {len(a.val_precision)} ridges by precision on "
              f"train subjects): precision@{a.k} " + "; ".join(f"{m} {iv(*a.precision(m))}" for m in METHODS))
    outcomes = {} if args.retrain_concept == "none" else \
        retrain_check(args, model, concepts_file, reports[args.retrain_concept], atts[args.retrain_concept])
    claims(reports, atts, outcomes)


def retrain_check(args, model: Path, concepts_file: Path, shipped, att) -> dict:
    """Retrain control / attributed / random at ``args.steps``; print the table; return outcomes by condition."""
    attributed = {line for t in range(len(att.targets)) for j in att.top("trak", t) for line in att.lines[j]}
    n_lines = len((model / "corpus.txt").read_text(encoding="utf-8").split("\n")) - 1
    drops = {"control": set(), "attributed": attributed, "random": random_lines(n_lines, len(attributed), 0, attributed)}
    config = recipe(model, args.steps)
    targets = pick_targets(shipped.data, args.targets, 0)
    outcomes = {}
    for condition, drop in drops.items():
        outcomes[condition] = run_condition(condition, model, model / "corpus.txt", concepts_file, shipped.data.concept,
                                            drop, config, shipped, targets)
        print(f"retrained ({condition}, {len(drop)} lines dropped, {config.steps} steps) in "
              f"{outcomes[condition].seconds:.0f} s", flush=True)
    print(f"\n== retraining the demo without sentences, concept {shipped.data.concept} (3 retrains of "
          f"{config.steps} steps; the recipe's full run is 2200)")
    print(format_retrain(list(outcomes.values())))
    return outcomes


def claims(reports: dict, atts: dict, outcomes: dict) -> None:
    """Claims computed from the figures."""
    def p(concept: str, m: str) -> tuple[float, float, float]:
        return atts[concept].precision(m)

    c = list(reports)
    lines = {
        "every concept appears at some layer (lower bound above the majority's upper bound)":
            all(reports[x].appears is not None for x in c),
        "every concept appears first in the embeddings (before any block)":
            all(reports[x].appears is not None and reports[x].appears.layer == -1 for x in c),
        "at the best layer the probe beats its shuffled-label twin (lower bound above its upper) for every concept":
            all(reports[x].score(reports[x].best).lo > reports[x].score(reports[x].best).shuffled_hi for x in c),
        "TRAK precision@k above random for every concept": all(p(x, "trak")[0] > p(x, "random")[0] for x in c),
        "TRAK precision@k above random and above gradient similarity for every concept":
            all(p(x, "trak")[0] > max(p(x, "random")[0], p(x, "gradsim")[0]) for x in c),
        "TRAK precision@k lower bound above random's upper bound for every concept":
            all(p(x, "trak")[1] > p(x, "random")[2] for x in c),
        "gradient similarity precision@k above random for every concept":
            all(p(x, "gradsim")[0] > p(x, "random")[0] for x in c),
        "gradient similarity precision@k above TRAK's for every concept":
            all(p(x, "gradsim")[0] > p(x, "trak")[0] for x in c),
    }
    if outcomes:
        lines.update(retrain_claims(outcomes))
    print("\n== claims")
    for text, value in lines.items():
        print(f"{bool(value)}: {text}")


def retrain_claims(outcomes: dict) -> dict:
    """Claims about the retrains, computed from their outcomes."""
    control, attributed, rnd = outcomes["control"], outcomes["attributed"], outcomes["random"]
    return {
        "retraining without the top-attributed lines leaves the layer where the concept appears where the control "
        "retrain has it": attributed.appears == control.appears,
        "held-out accuracy after removing the attributed lines is inside the control retrain's interval":
            control.lo <= attributed.acc <= control.hi,
        "sparsity (units for 90% of the gain) after removing the attributed lines is within 2x of the control's":
            None not in (attributed.sparse_units, control.sparse_units)
            and control.sparse_units / 2 <= attributed.sparse_units <= control.sparse_units * 2,
        "removing the attributed lines costs the attributed subjects more accuracy than removing random lines":
            attributed.target_acc < rnd.target_acc,
    }


if __name__ == "__main__":
    main()
