"""What batched captures save when a cluster search reads many prompts.

    python bench/capture.py [--model assets/demo] [--threads 1] [--repeats 3]

Reads the mlp_post units at the last position of every train keyword prompt of the
demo, as cluster search does: once through ``Engine.capture`` (32 prompts per
forward), once prompt by prompt through ``Engine.trace`` (a full trace each, the
way it was read before). Each side starts from a fresh engine, so no trace cache
helps either. Prints the median wall and CPU times, the ratio and the largest
difference between the two readings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster.inputs import last_position_acts, site_acts  # noqa: E402
from engine import Engine  # noqa: E402
from promptsets import DEMO_DIR, DEMO_PROMPTS, load_keyword_prompts  # noqa: E402


def per_prompt(engine: Engine, prompts) -> np.ndarray:
    """``(n_prompts, n_layers, d_mlp)`` last-position units, one full trace per prompt."""
    rows = []
    for p in prompts:
        trace = engine.trace(p.prompt)
        rows.append(np.stack([site_acts(trace, "mlp_post", l)[-1].numpy() for l in range(engine.spec.n_layers)]))
    return np.stack(rows)


def timed(fn, model: str, prompts, repeats: int) -> tuple[float, float, np.ndarray]:
    """Median wall and CPU seconds of ``fn`` on a fresh engine, and its last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        engine = Engine.load(model)
        w, c = time.perf_counter(), time.process_time()
        out = fn(engine, prompts)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEMO_DIR))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = [p for p in load_keyword_prompts(DEMO_PROMPTS) if p.split == "train"]
    batched = timed(last_position_acts, args.model, prompts, args.repeats)
    single = timed(per_prompt, args.model, prompts, args.repeats)
    print(f"{len(prompts)} prompts, last-position mlp_post of every layer, median of {args.repeats}")
    print(f"  Engine.capture, 32 per forward: {batched[0] * 1e3:8.0f} ms wall  {batched[1] * 1e3:8.0f} ms CPU")
    print(f"  a trace per prompt:             {single[0] * 1e3:8.0f} ms wall  {single[1] * 1e3:8.0f} ms CPU")
    print(f"  batched is {single[0] / batched[0]:.1f}x faster (wall), {single[1] / batched[1]:.1f}x (CPU); "
          f"largest difference {np.abs(batched[2] - single[2]).max():.2e}")


if __name__ == "__main__":
    main()
