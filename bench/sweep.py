"""Sweep cells per second: each prompt's runs as one batch, against the one-prompt, one-run loop.

    python bench/sweep.py [--threads 1] [--prompts 8] [--intensities 8] [--repeats 3] [--device cpu]

A cell is one prompt under one impairment (cluster x mode x intensity x seed). Both
ways score the same cells through the cluster sweep's own functions: the loop
calls ``Engine.run`` once per cell (``cluster.impair.score``), the batch calls
``Engine.run_batch`` once per prompt (``cluster.impair.score_batch``). On the
demo model (its athlete cluster, held-out keyword prompts) and on GPT-2 small's
shape with random weights (a random 3% of every layer's neurons, random
32-token prompts), for impairments at every position and at the last position
only. Prints the best of ``--repeats`` (wall and process CPU time) and the
batched/looped ratio of cells per second. Goal: >= 4x on GPT-2-small shape.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.shapes import gpt2_small_engine  # noqa: E402
from cluster.impair import EvalSet, impairs, make_eval_set, score, score_batch  # noqa: E402
from cluster.spec import Cluster, load_cluster  # noqa: E402
from engine import Engine  # noqa: E402
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS  # noqa: E402
from promptsets.schema import load_keyword_prompts  # noqa: E402

MODES = ("noise", "scale")


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Best (wall, process CPU) seconds of ``fn`` over ``repeats`` runs (after one warm-up)."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def measure(name: str, engine: Engine, cluster: Cluster, evalset: EvalSet, xs: np.ndarray, repeats: int) -> None:
    """Print cells/s looped and batched, for impairments at every position and at the last one."""
    for positions in ("all", "last"):
        runs = [impairs(cluster, mode, float(x), positions=positions) for mode in MODES for x in xs]
        cells = len(runs) * len(evalset.prompts)
        looped = best_time(lambda: [score(engine, evalset, r) for r in runs], repeats)
        batched = best_time(lambda: score_batch(engine, evalset, runs), repeats)
        print(f"{name:<24}{positions:>5}{cells:>7}"
              f"{cells / looped[0]:>12.1f}{cells / batched[0]:>12.1f}{looped[0] / batched[0]:>8.2f}x"
              f"{looped[1] / batched[1]:>11.2f}x")


def gpt2_small_case(n_prompts: int, seed: int = 0, device: str = "cpu") -> tuple[Engine, Cluster, EvalSet]:
    """GPT-2 small's shape on ``device``, a random 3% of each layer's neurons, ``n_prompts`` random 32-token prompts."""
    engine = gpt2_small_engine(device)
    rng = np.random.default_rng(seed)
    spec = engine.spec
    per_layer = max(1, spec.d_mlp * 3 // 100)
    neurons = tuple((layer, int(u)) for layer in range(spec.n_layers)
                    for u in np.sort(rng.choice(spec.d_mlp, per_layer, replace=False)))
    cluster = Cluster(name="random-3pct", neurons=neurons, method="random", site="mlp_post",
                      fingerprint=spec.fingerprint, model_name=spec.name)
    prompts = tuple(tuple(int(t) for t in rng.integers(0, spec.d_vocab, 32)) for _ in range(n_prompts))
    evalset = EvalSet(prompts=prompts, answers=tuple(int(t) for t in rng.integers(0, spec.d_vocab, n_prompts)),
                      topic_index=np.zeros(n_prompts, dtype=int), topics=("random",), split=None)
    return engine, cluster, evalset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompts", type=int, default=8, help="GPT-2-small-shape prompts")
    parser.add_argument("--intensities", type=int, default=8, help="intensities per mode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    xs = np.linspace(0.25, 2.0, args.intensities)
    print(f"cells/s on {args.device}, best of {args.repeats}, {args.threads} thread(s); modes {', '.join(MODES)}, "
          f"{args.intensities} intensities each")
    print(f"{'model':<24}{'pos':>5}{'cells':>7}{'looped':>12}{'batched':>12}{'ratio':>9}{'cpu ratio':>12}")
    if (DEMO_DIR / "config.json").is_file():
        demo = Engine.load(DEMO_DIR, device=args.device)
        evalset = make_eval_set(demo, load_keyword_prompts(DEMO_PROMPTS), "heldout")
        measure("demo", demo, load_cluster(DEMO_DIR / "clusters" / "athlete.json", demo), evalset, xs, args.repeats)
    measure("gpt2-small shape", *gpt2_small_case(args.prompts, device=args.device), xs, args.repeats)


if __name__ == "__main__":
    main()
