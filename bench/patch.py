"""Patching speed: every site of a prompt pair, one batched forward per heatmap row, against one run per site.

    python bench/patch.py [--repeats 5] [--threads 1]

On the demo model (a demo fact pair) and, when present, the TinyStories Llama at
../shared/models/tinystories-656k, times ``patch_sites`` (what the Patch page redraws)
and the same sites patched one at a time through ``Engine.run`` (the prefix cache, no
batching) and ``Engine.run_full`` (a hooked full forward per site). Prints the median
wall and process CPU time of each and the ratios; the numbers agree (checked).
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

from engine import Engine  # noqa: E402
from patch.compute import PatchSpec, metric_of, patch_sites, site_patches  # noqa: E402
from promptsets.paths import DEMO_DIR  # noqa: E402

TINYSTORIES = Path("../shared/models/tinystories-656k")
CASES = {
    "demo": (DEMO_DIR, PatchSpec("Higrus was born in", "Thoutal was born in", " Boband", " Thusei")),
    "tinystories": (TINYSTORIES, PatchSpec("Once upon a time, there was a little girl named Lily. Lily",
                                           "Once upon a time, there was a little boy named Tom. Tom", ". She ", "my ")),
}


def one_at_a_time(engine: Engine, spec: PatchSpec, full: bool) -> np.ndarray:
    """Every site's metric, one run per site (denoising)."""
    good = engine.token_id(spec.clean_answer, first=True, prompt=spec.clean)
    bad = engine.token_id(spec.corrupted_answer, first=True, prompt=spec.corrupted)
    trace, n_pos = engine.trace(spec.clean), len(engine.encode(spec.clean))
    run = engine.run_full if full else engine.run
    out = []
    for layer in range(engine.spec.n_layers):
        for patches in site_patches(trace, layer, n_pos, engine.spec.n_heads).values():
            out += [metric_of(run(spec.corrupted, [p]).logits[0], good, bad) for p in patches]
    return np.asarray(out)


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and process CPU seconds of ``fn()``, and its last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), out


def bench(name: str, engine: Engine, spec: PatchSpec, repeats: int) -> None:
    """One model: batched rows against both loops; one line each."""
    batched = timed(lambda: patch_sites(engine, spec), repeats)
    result = batched[2]
    gap = result.clean_metric - result.corrupted_metric
    flat = np.concatenate([np.concatenate([result.resid[l], result.heads[l], result.mlp[l]])
                           for l in range(engine.spec.n_layers)]) * gap + result.corrupted_metric
    n_sites = flat.size
    print(f"{name}: {n_sites} sites, {len(engine.encode(spec.clean))} positions")
    print(f"  batched rows (the page)          {batched[0] * 1e3:8.1f} ms wall {batched[1] * 1e3:8.1f} ms CPU")
    for label, full in (("one run per site, prefix cache", False), ("one hooked full forward per site", True)):
        wall, cpu, loop = timed(lambda: one_at_a_time(engine, spec, full), repeats)
        diff = float(np.abs(loop - flat).max())
        print(f"  {label:<33}{wall * 1e3:8.1f} ms wall {cpu * 1e3:8.1f} ms CPU  "
              f"x{wall / batched[0]:.1f} wall x{cpu / batched[1]:.1f} CPU slower (max difference {diff:.1e})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for name, (folder, spec) in CASES.items():
        if (Path(folder) / "config.json").is_file():
            bench(name, Engine.load(folder), spec, args.repeats)


if __name__ == "__main__":
    main()
