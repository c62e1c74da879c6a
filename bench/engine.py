"""How much the engine's prefix cache and sample batching save, against a naive hooked forward.

    python bench/engine.py [--repeats 11] [--threads N]

For the demo model (assets/demo, if built) and a GPT-2-small-shaped model with
random weights, on 32 random token ids, prints the median time of: a naive
hooked full forward (transformers ``model(ids)`` with one pre-hook doing the
same impairment, logits at every position, as hook-based tools do), the
engine's own full forward, a cold clean trace, the engine with that
impairment (noise on every 4th neuron of the middle layer's mlp_post) on all
positions and on the last position only, each with K=1 and K=8 noise samples;
then the ratios. Goals: >= 3x faster than the naive forward at the middle
layer on GPT-2-small shape; K=8 costs <= 2x K=1.

Both wall and process CPU time are shown: on a machine shared with other jobs
CPU time is the steadier figure, and ``--threads 1`` avoids OpenMP threads
waiting on each other when the cores are oversubscribed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine, Impair  # noqa: E402
from bench.shapes import gpt2_small_engine  # noqa: E402

N_TOKENS = 32


def median_ms(cases: dict[str, object], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, process CPU) time in ms of each callable, measured round-robin.

    Round-robin spreads load spikes from other processes over every case alike; CPU time
    is the steadier figure on a shared machine.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in cases.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: (1000 * statistics.median(w for w, _ in ts), 1000 * statistics.median(c for _, c in ts))
            for name, ts in times.items()}


def naive_hooked_forward(eng: Engine, ids: list[int], layer: int, neurons: tuple[int, ...]):
    """What a hook-based tool does: a full forward with a hook, all positions' logits."""
    module = eng._adapter.mlp_o[layer]
    index = torch.tensor(neurons)

    def hook(mod, args):
        x = args[0].clone()
        x[..., index] += torch.randn(x.shape[:-1] + (len(neurons),))
        return (x,)

    def run():
        handle = module.register_forward_pre_hook(hook)
        try:
            with torch.no_grad():
                return eng.model(torch.tensor([ids])).logits[0, -1]
        finally:
            handle.remove()
    return run


def bench_model(label: str, eng: Engine, repeats: int) -> dict[str, tuple[float, float]]:
    """Print and return the timings for one model."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, eng.spec.d_vocab, (N_TOKENS,), generator=gen).tolist()
    layer = eng.spec.n_layers // 2
    neurons = tuple(range(0, eng.spec.d_mlp, 4))
    middle = [Impair(layer=layer, neurons=neurons, mode="noise", intensity=1.0, seed=1)]
    last = [Impair(layer=layer, neurons=neurons, mode="noise", intensity=1.0, seed=1, positions="last")]
    eng.trace(ids)
    t = median_ms({
        "naive hooked full forward": naive_hooked_forward(eng, ids, layer, neurons),
        "engine full forward (run_full)": lambda: eng.run_full(ids, middle),
        "engine clean trace (cold cache)": lambda: (eng._traces.clear(), eng.trace(ids)),
        f"engine, layer {layer}, all positions, K=1": lambda: eng.run(ids, middle),
        f"engine, layer {layer}, all positions, K=8": lambda: eng.run(ids, middle, samples=8),
        f"engine, layer {layer}, last position, K=1": lambda: eng.run(ids, last),
        f"engine, layer {layer}, last position, K=8": lambda: eng.run(ids, last, samples=8),
    }, repeats)
    s = eng.spec
    print(f"\n{label}: {s.n_layers} layers, d_model {s.d_model}, d_vocab {s.d_vocab}, {N_TOKENS} tokens")
    print(f"  {'median of ' + str(repeats):<44} {'wall ms':>9} {'cpu ms':>9}")
    for name, (wall, cpu) in t.items():
        print(f"  {name:<44} {wall:9.2f} {cpu:9.2f}")
    keys = list(t)
    naive, mid1, mid8, last1, last8 = (t[keys[0]], t[keys[3]], t[keys[4]], t[keys[5]], t[keys[6]])
    ratios = {
        "speed-up vs naive, middle layer, all positions": (naive, mid1),
        "speed-up vs naive, middle layer, last position": (naive, last1),
        "K=8 / K=1, last position": (last8, last1),
        "K=8 / K=1, all positions": (mid8, mid1),
    }
    print(f"  {'ratios':<48} {'wall':>6} {'cpu':>6}")
    for name, (a, b) in ratios.items():
        print(f"  {name:<48} {a[0] / b[0]:5.2f}x {a[1] / b[1]:5.2f}x")
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    from promptsets.paths import DEMO_DIR
    if (DEMO_DIR / "config.json").exists():
        bench_model("demo model", Engine.load(DEMO_DIR), args.repeats * 4)
    else:
        print(f"\ndemo model: missing ({DEMO_DIR} has no config.json yet); skipped")
    bench_model("GPT-2-small shape", gpt2_small_engine(), args.repeats)


if __name__ == "__main__":
    main()
