"""Memory injection on the demo model: does injecting the missing bridge entity repair wrong two-hop answers?

Prints, for the heldout two-hop prompts the model gets wrong, per way of choosing
the (layer, scale): how many answers at least doubled in probability and how many
became the top-1 token (each with a 95% Wilson interval), the median gain (with a
95% bootstrap interval) and the paper-style mean of ratios. The control entity is
scored at the bridge's own cells (like for like) and, separately, at cells it
chooses for itself. Then the median gain at every (layer, scale), and the decomposition
(memory/decompose.py): the bridge with the answer's and every candidate answer's
unembedding direction projected out, the bridge added after the last block (the direct
path), and a control matched to the bridge in cosine with the answer's row.

    python bench/memory.py [--model DIR] [--prompts DIR] [--source unembedding|embedding] [--scales 1:15:1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine  # noqa: E402
from memory.__main__ import parse_range  # noqa: E402
from memory.evaluate import answers_top1, decompose, format_decomposition, format_report, repair_check  # noqa: E402
from memory.inject import MEMORY_SOURCES  # noqa: E402
from memory.sweep import LayerScaleSweep, SweepSpec  # noqa: E402
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS  # noqa: E402
from promptsets.schema import load_two_hop_prompts  # noqa: E402


def gain_table(held: LayerScaleSweep) -> str:
    """Median gain over the wrong heldout prompts at every (layer, scale), bridge then control (the heatmap as text)."""
    head = "scale      " + "".join(f"{s:>6g}" for s in held.scales)
    lines = []
    for label in ("bridge", "control"):
        med = np.median(held.select(label).gain, axis=0)
        lines.append(f"median gain, {label} (rows: layers)")
        lines.append(head)
        lines += [f"layer {layer:<4} " + "".join(f"{g:6.2f}" for g in med[i]) for i, layer in enumerate(held.layers)]
    return "\n".join(lines)


def main() -> None:
    """Run the repair check and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEMO_DIR))
    ap.add_argument("--prompts", default=str(DEMO_PROMPTS))
    ap.add_argument("--source", choices=MEMORY_SOURCES, default="unembedding")
    ap.add_argument("--normalise", action="store_true")
    ap.add_argument("--positions", default="all")
    ap.add_argument("--scales", default="1:15:1")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for the tiny demo model)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    engine = Engine.load(args.model)
    prompts = load_two_hop_prompts(Path(args.prompts))
    spec = SweepSpec(scales=parse_range(args.scales, float), source=args.source, normalise=args.normalise,
                     positions=args.positions)
    report, taught, held = repair_check(engine, prompts, spec)
    print(f"model {engine.spec.name} ({engine.spec.n_layers} layers), memory source {args.source}, "
          f"normalise {args.normalise}, positions {args.positions}, scales {args.scales}")
    print(f"taught prompts used to choose the cell: {len(taught.cases)}")
    print(format_report(report))
    print(gain_table(held))
    if args.source == "unembedding" and not args.normalise and args.positions == "all":
        wrong = [p for p in prompts if p.split == "heldout" and not answers_top1(engine, p.prompt, p.answer)]
        print("\ncomposition or direct push? each variant at the bridge's leave-one-out cell")
        print(format_decomposition(decompose(engine, wrong, report.loo_cells, prompts)))
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
