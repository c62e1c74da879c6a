"""Fact edits on the demo model, like for like: are edited facts more fragile than learned ones?

Edits ``--n`` demo facts with every method on one layer. Like for like: every method is trained
until p(new) reaches the learned facts' median confidence on the same prompts (1-LI runs its
whole budget and keeps alpha of the change, so its p is what it reaches; printed); each edit is
judged under the topic cluster of its own relation (relations no cluster covers are left out,
and named); and edited and learned are compared prompt by prompt: the edit prompt's new
object with the edit against the same prompt's learned answer without it, one prompt each
side, with a 95% bootstrap interval on the median paired difference of halving intensities,
on the own-relation cluster and on random clusters of the same per-layer counts.

    python bench/edit.py [--n 50] [--layer 1] [--rank 4] [--alpha 0.5] [--intensities 0:10:1] [--target-p matched]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edit.__main__ import parse_floats  # noqa: E402
from edit.score import demo_cases, demo_texts, own_cluster_relations  # noqa: E402
from edit.spec import METHODS, EditSpec, answer_token_id  # noqa: E402
from edit.sweep import (SweepSettings, format_paired, format_table, method_specs, paired_summaries,  # noqa: E402
                        paired_verdicts, summarise, sweep_edits)
from engine import Engine  # noqa: E402
from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS  # noqa: E402


def learned_confidence(engine: Engine, cases) -> float:
    """The median over the cases of the model's own p(learned answer) on the edit prompt, unedited."""
    return float(np.median([engine.run(c.fact.prompt).readout(1, answer_token_id(engine, c.fact.answer, c.fact.prompt)).target_clean
                            for c in cases]))


def main() -> None:
    """Run every method over the same edits and print the tables and what the paired intervals support."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--layer", type=int, default=1)
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=300, help="training budget per edit (stops at the target p)")
    ap.add_argument("--target-p", default="matched", help="'matched' (the learned facts' median p) or a number")
    ap.add_argument("--intensities", default="0:10:1", help="noise intensities (learned facts often survive 6)")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--heldout", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine.load(DEMO_DIR)
    owned, orphans = own_cluster_relations(DEMO_PROMPTS, DEMO_CLUSTERS)
    cases = [replace(c, topic=owned[c.fact.relation]) for c in demo_cases(args.n, args.seed, DEMO_PROMPTS, tuple(owned))]
    learned_p = learned_confidence(engine, cases)
    target_p = learned_p if args.target_p == "matched" else float(args.target_p)
    base = EditSpec(layer=args.layer, rank=args.rank, alpha=args.alpha, steps=args.steps, target_p=min(target_p, 0.9999))
    intensities = parse_floats(args.intensities)
    settings = SweepSettings("noise", intensities, args.samples, args.seed, clusters=str(DEMO_CLUSTERS),
                             learned_neighbours=0)
    keys, heldout = demo_texts(str(DEMO_DIR), args.heldout)
    rows, seconds = [], {}
    for spec in method_specs(METHODS, base):
        start = time.perf_counter()
        rows += sweep_edits(engine, cases, [spec], settings, keys, heldout)
        seconds[spec.label] = time.perf_counter() - start
        print(f"{spec.label}: {seconds[spec.label]:.0f} s", file=sys.stderr, flush=True)
    print(f"{len(cases)} edits per method on layer {args.layer} of the demo model, relations "
          + ", ".join(f"{r} ({sum(c.fact.relation == r for c in cases)}, {t} cluster)" for r, t in owned.items())
          + f"; left out (no cluster of their own): {', '.join(orphans) or 'none'}")
    print(f"learned facts' median p on these prompts: {learned_p:.4f}; every method trained to p(new) >= "
          f"{base.target_p:.4f} (at most {args.steps} steps; 1-LI: its whole budget, then alpha {args.alpha:g})")
    print(f"noise on each fact's own-relation cluster, intensities {args.intensities}, {args.samples} samples; "
          f"one prompt each side; damage on {len(heldout)} held-out documents")
    print(format_table(summarise(rows)))
    print("\npaired, prompt by prompt (edited minus learned halving intensity; beyond the grid counts as "
          f"{max(intensities):g}):")
    summaries = paired_summaries(rows, max(intensities))
    print(format_paired(summaries))
    for line in paired_verdicts(summaries):
        print(line)
    print("seconds per method (edit, scores and curves): "
          + ", ".join(f"{label} {s:.0f}" for label, s in seconds.items()))


if __name__ == "__main__":
    main()
