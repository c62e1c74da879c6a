"""Fact edits on the demo model: how well each method edits, and how robust its edits are.

Edits ``--n`` demo facts (relations with a topic cluster) with every method on one layer and
prints, per method: efficacy, generalisation (paraphrases), specificity (neighbouring subjects),
general damage (held-out loss change) and the noise intensity at which the edited fact's
top-1 accuracy halves, against the same figure for learned facts (the edit prompt's old answer
and its neighbours, unedited) and for the edited fact under random clusters. Then which
method's edits are the most robust, and by how much.

    python bench/edit.py [--n 50] [--layer 1] [--rank 4] [--alpha 0.5] [--intensities 0:6:1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edit.cases import RELATIONS, demo_cases, demo_texts  # noqa: E402
from edit.cli import parse_floats  # noqa: E402
from edit.report import format_table, summarise  # noqa: E402
from edit.spec import METHODS, EditSpec  # noqa: E402
from edit.sweep import SweepSettings, method_specs, sweep_edits  # noqa: E402
from engine import Engine  # noqa: E402
from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS  # noqa: E402


def main() -> None:
    """Run every method over the same edits and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--layer", type=int, default=1)
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--intensities", default="0:6:1")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--heldout", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine.load(DEMO_DIR)
    cases = demo_cases(args.n, args.seed, DEMO_PROMPTS, tuple(r for r in RELATIONS if r != "country"))
    base = EditSpec(layer=args.layer, rank=args.rank, alpha=args.alpha)
    settings = SweepSettings("noise", parse_floats(args.intensities), args.samples, args.seed,
                             clusters=str(DEMO_CLUSTERS))
    keys, heldout = demo_texts(str(DEMO_DIR), args.heldout)
    rows, seconds = [], {}
    for spec in method_specs(METHODS, base):
        start = time.perf_counter()
        rows += sweep_edits(engine, cases, [spec], settings, keys, heldout)
        seconds[spec.label] = time.perf_counter() - start
        print(f"{spec.label}: {seconds[spec.label]:.0f} s", file=sys.stderr, flush=True)
    summaries = summarise(rows)
    print(f"{len(cases)} edits per method on layer {args.layer} of the demo model; noise on each fact's topic "
          f"cluster, intensities {args.intensities}, {args.samples} samples; damage on {len(heldout)} held-out documents")
    print(format_table(summaries))
    best = max(summaries, key=lambda s: s.robustness)
    worst = min(summaries, key=lambda s: s.robustness)
    print(f"most robust: {best.label}, edited facts halve at {best.halving_edited:.2f} "
          f"({best.robustness:.2f}x the learned facts' {best.halving_learned:.2f}); "
          f"{best.halving_edited / worst.halving_edited:.2f}x the least robust, {worst.label} ({worst.halving_edited:.2f})")
    print("seconds per method (edit, scores and curves): "
          + ", ".join(f"{label} {s:.0f}" for label, s in seconds.items()))


if __name__ == "__main__":
    main()
