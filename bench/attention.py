"""Memory and time of one long clean trace: eager attention against SDPA with one asked-for pattern.

    python bench/attention.py [--tokens 2048] [--threads 1]

A GPT-2-small-shaped model with seeded random weights reads ``--tokens`` random token ids once
(``Engine.trace``: every activation kept, as the pages use it). Each variant runs in its own child
process, which reports the rise of its peak resident memory (``ru_maxrss``) over the memory it held
before the trace, and the trace's wall and CPU time (the steadier figure on a shared machine):

- eager, every pattern: eager attention, and every layer's pattern kept, as each trace did before;
- eager: eager attention, no pattern kept;
- sdpa: the engine's default, no pattern kept;
- sdpa + one pattern: the same, then the one layer's pattern a page asks for (``Engine.pattern``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GPT2Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine  # noqa: E402

VARIANTS = ("eager, every pattern", "eager", "sdpa", "sdpa + one pattern")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _current_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child(variant: str, n_tokens: int, threads: int) -> dict:
    """Build the model, run one trace of ``variant``: its memory rise (MB), wall and CPU seconds."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=n_tokens)
    model = AutoModelForCausalLM.from_config(config).eval().requires_grad_(False)
    engine = Engine(model, tokenizer=None, attention=variant.split(",")[0].split(" ")[0], max_trace_bytes=1 << 34)
    engine.trace(list(range(8)))  # warm up (kernels, allocator) on a short prompt
    ids = torch.randint(0, config.vocab_size, (n_tokens,), generator=torch.Generator().manual_seed(1)).tolist()
    before, start, cpu = max(_current_mb(), _peak_mb()), time.perf_counter(), time.process_time()
    trace = engine.trace(ids)
    kept = []
    if variant == "eager, every pattern":
        kept = [engine.pattern(ids, layer) for layer in range(engine.spec.n_layers)]
    elif variant == "sdpa + one pattern":
        kept = [engine.pattern(ids, engine.spec.n_layers // 2)]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert trace.n_pos == n_tokens and all(p.shape[-1] == n_tokens for p in kept)
    return {"rise_mb": _peak_mb() - before, "seconds": seconds, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tokens, args.threads)))
        return
    print(f"GPT-2-small shape (random weights), one trace of {args.tokens} tokens, {args.threads} thread(s)")
    results = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--tokens", str(args.tokens),
                              "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results["eager, every pattern"]
    print(f"{'variant':<22} {'peak memory rise':>17} {'x first':>8} {'wall':>7} {'CPU':>7} {'x first (CPU)':>14}")
    for variant, r in results.items():
        print(f"{variant:<22} {r['rise_mb']:>14.0f} MB {r['rise_mb'] / base['rise_mb']:>8.2f} "
              f"{r['seconds']:>6.1f}s {r['cpu']:>6.1f}s {r['cpu'] / base['cpu']:>14.2f}")


if __name__ == "__main__":
    main()
