"""Generation speed: the engine's key/value-cache loop against rerunning the whole sequence per token.

    python bench/generate.py [--tokens 32] [--prompt 16] [--repeats 3] [--threads 1] [--device cpu]

For the demo model (assets/demo, if built) and a GPT-2-small-shaped model with random
weights, greedy generation of ``--tokens`` new tokens (EOS does not stop it) after ``--prompt`` random token ids,
with no intervention and with an impairment (scale 0.5 on every 4th neuron of the middle
layer, all positions). The naive baseline reruns a full hooked forward over the whole
sequence for every new token (``Engine.run_full``); both give the same tokens (checked).
Prints tokens per second (median over repeats, wall and process CPU time) and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.shapes import gpt2_small_engine  # noqa: E402
from engine import Engine, Impair  # noqa: E402
from engine.generate import for_generation  # noqa: E402
from promptsets.paths import DEMO_DIR  # noqa: E402


def naive(engine: Engine, prompt: list[int], interventions: tuple, n: int) -> list[int]:
    """Greedy tokens from a full forward over the whole sequence per new token (hooked, through
    ``Engine.run_full``, under interventions; the model's own forward without)."""
    new: list[int] = []
    total = len(prompt) + n
    for _ in range(n):
        m = len(prompt) + len(new)
        if interventions:
            placed = tuple(_upto(i, m) for i in for_generation(interventions, len(prompt), total))
            logits = engine.run_full(prompt + new, placed).logits[0]
        else:
            with engine.lock, torch.no_grad():
                logits = engine.model(torch.tensor([prompt + new], device=engine.device)).logits[0, -1]
        new.append(int(torch.argmax(logits)))
    return new


def _upto(item, m: int):
    """``item`` with its explicit positions cut to the first ``m``."""
    if isinstance(item, Impair):
        return Impair(item.layer, item.neurons, item.mode, item.intensity, item.site,
                      tuple(p for p in item.positions if p < m), item.seed, item.mean)
    return item


def tokens_per_s(fn, repeats: int) -> tuple[float, float, list[int]]:
    """Median tokens per second of ``fn()`` (which returns the new tokens), in wall and process CPU time."""
    walls, cpus, out = [], [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return len(out) / statistics.median(walls), len(out) / statistics.median(cpus), out


def bench(name: str, engine: Engine, args) -> None:
    """One model: both cases, both paths; prints one line per case."""
    gen = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, engine.spec.d_vocab, (args.prompt,), generator=gen).tolist()
    mid = engine.spec.n_layers // 2
    impair = (Impair(mid, tuple(range(0, engine.spec.d_mlp, 4)), "scale", 0.5),)
    for case, ivs in (("clean", ()), ("impaired", impair)):
        fast_wall, fast_cpu, a = tokens_per_s(
            lambda: list(engine.generate(prompt, ivs, max_new_tokens=args.tokens, stop_at_eos=False).new_ids), args.repeats)
        slow_wall, slow_cpu, b = tokens_per_s(lambda: naive(engine, prompt, ivs, args.tokens), args.repeats)
        same = f"same {len(a)} tokens" if a == b else "TOKENS DIFFER"
        print(f"{name:<18} {case:<9} | KV cache {fast_wall:7.1f} tok/s wall {fast_cpu:7.1f} CPU | full forward per "
              f"token {slow_wall:7.1f} wall {slow_cpu:7.1f} CPU | x{fast_wall / slow_wall:.1f} wall "
              f"x{fast_cpu / slow_cpu:.1f} CPU ({same})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.prompt} prompt tokens, {args.tokens} new tokens, greedy, {args.threads} thread(s), {args.device}")
    if (DEMO_DIR / "model.safetensors").is_file():
        bench("demo", Engine.load(DEMO_DIR, device=args.device), args)
    bench("GPT-2-small shape", gpt2_small_engine(args.device), args)


if __name__ == "__main__":
    main()
