"""Time to decode every head of one layer at every position, compact vs full Attention Lens.

    python bench/lens.py [--repeats 9] [--threads N]

On the demo model (assets/demo, with its shipped compact lenses if present) and on a
GPT-2-small-shaped model with random weights (12 layers, 12 heads, d_model 768,
d_vocab 50257), 32 tokens: the median time of the batched decode (all heads of the
middle layer in one operation, top-5 plus a target's probability and rank) against a
naive decode of the same lens (one head at a time, full softmax, full sort for top-k
and rank), and their ratio; and the batched decode of the last position alone (what the
layer x head grid shows). Goal: <= 50 ms per layer on the GPT-2-small shape.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine  # noqa: E402
from bench.shapes import gpt2_small_engine  # noqa: E402
from lens import Lens, decode_layer, load_lenses  # noqa: E402
from lens.lenses import Unembed, new_layer_lens  # noqa: E402
from lens.storage import ModuleLens  # noqa: E402
from promptsets.paths import DEMO_DIR, DEMO_LENSES  # noqa: E402

N_TOKENS, K = 32, 5


def naive_decode(lens: Lens, layer: int, writes: torch.Tensor, target: int):
    """One head at a time: logits, full softmax, full sort for the top-k and the target's rank."""
    out = []
    with torch.no_grad():
        for h in range(writes.shape[1]):
            probs = torch.softmax(lens.head_logits(layer, writes[:, h : h + 1])[:, 0], dim=-1)
            values, order = probs.sort(dim=-1, descending=True)
            rank = (order == target).nonzero()[:, 1] + 1
            out.append((order[:, :K], values[:, :K], probs[:, target], rank))
    return out


def median_ms(cases: dict[str, object], repeats: int) -> dict[str, float]:
    """Median wall time in ms of each callable, measured round-robin so load spikes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(ts) for name, ts in times.items()}


def lenses_for(eng: Engine, layer: int, shipped: Path | None) -> list[Lens]:
    """Compact lenses from ``shipped`` if given, else fresh ones; a fresh full lens (W_U copies)."""
    unembed = Unembed.from_adapter(eng.adapter)
    torch.manual_seed(0)
    fresh = new_layer_lens("compact", eng.spec.n_heads, unembed)
    compact: Lens = ModuleLens({layer: fresh}, unembed, "compact (fresh)")
    if shipped is not None:
        compact = load_lenses(shipped, eng)
        compact.name = "compact (shipped)"
    full = ModuleLens({layer: new_layer_lens("full", eng.spec.n_heads, unembed)}, unembed, "full")
    return [compact, full]


def bench_model(label: str, eng: Engine, repeats: int, shipped: Path | None = None) -> dict[str, float]:
    """Print and return decode timings of the middle layer of ``eng``."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, eng.spec.d_vocab, (N_TOKENS,), generator=gen).tolist()
    layer, target = eng.spec.n_layers // 2, ids[-1]
    writes = eng.trace(ids).head_writes(layer)
    cases = {}
    for lens in lenses_for(eng, layer, shipped):
        cases[f"{lens.name}, batched"] = lambda lens=lens: decode_layer(lens, layer, writes, K, target)
        cases[f"{lens.name}, naive"] = lambda lens=lens: naive_decode(lens, layer, writes, target)
        cases[f"{lens.name}, batched, 1 position"] = lambda lens=lens: decode_layer(lens, layer, writes[-1:], K, target)
    t = median_ms(cases, repeats)
    s = eng.spec
    print(f"\n{label}: layer {layer}, {s.n_heads} heads x {N_TOKENS} positions, d_model {s.d_model}, "
          f"d_vocab {s.d_vocab}")
    for name, ms in t.items():
        print(f"  {name:<34} {ms:9.2f} ms per layer")
    for name in [n.removesuffix(", batched") for n in t if n.endswith(", batched")]:
        print(f"  {name}: naive / batched = {t[name + ', naive'] / t[name + ', batched']:.2f}x")
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if (DEMO_DIR / "config.json").exists():
        shipped = DEMO_LENSES if (DEMO_LENSES / "lens.json").exists() else None
        bench_model("demo model", Engine.load(DEMO_DIR), args.repeats * 4, shipped)
    else:
        print(f"\ndemo model: missing ({DEMO_DIR} has no config.json yet); skipped")
    t = bench_model("GPT-2-small shape", gpt2_small_engine(), args.repeats)
    best = min(ms for name, ms in t.items() if name.endswith("batched"))
    one = min(ms for name, ms in t.items() if name.endswith("1 position"))
    flops = 2 * 12 * N_TOKENS * 768 * 50257
    print(f"\ngoal <= 50 ms per layer on GPT-2-small shape, all {N_TOKENS} positions: best batched {best:.1f} ms "
          f"({'met' if best <= 50 else 'not met'} on this machine; the unembedding alone is "
          f"{flops / 1e9:.1f} GFLOP, {flops / best / 1e6:.0f} GFLOP/s reached)")
    print(f"one position (what a layer x head grid shows): best batched {one:.1f} ms "
          f"({'met' if one <= 50 else 'not met'})")


if __name__ == "__main__":
    main()
