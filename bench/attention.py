"""Memory and time of one long prompt's forward: eager attention against SDPA with one asked-for pattern.

    python bench/attention.py [--tokens 2048] [--threads 1]

A GPT-2-small-shaped model with seeded random weights reads ``--tokens`` random token ids once. Each
variant runs in its own child process, which reports the rise of its peak resident memory
(``ru_maxrss``) over the memory it held before, and the wall and CPU time (the steadier figure on a
shared machine). Each is compared with eager attention doing the same work:

- trace (``Engine.trace``: every activation kept, as the pages use it):
  eager with every layer's pattern kept, as each trace did before (its time includes rerunning each
  layer's attention for its pattern); eager; sdpa (the engine's default); sdpa, then the one layer's
  pattern a page asks for (``Engine.pattern``);
- blocks (every block once, keeping nothing and computing no vocabulary-wide logits, so attention's
  own memory shows): eager; sdpa.
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

# name -> (attention, work)
VARIANTS = {
    "trace, eager, every pattern": ("eager", "every pattern"),
    "trace, eager": ("eager", "trace"),
    "trace, sdpa": ("sdpa", "trace"),
    "trace, sdpa + one pattern": ("sdpa", "one pattern"),
    "blocks, eager": ("eager", "blocks"),
    "blocks, sdpa": ("sdpa", "blocks"),
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _current_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _blocks(engine: Engine, ids: list[int]) -> None:
    """Every block once over ``ids``, keeping nothing (what attention itself costs, without the vocabulary)."""
    adapter = engine.adapter
    with engine.lock, torch.no_grad():
        frame = adapter.frame(0, len(ids))
        h = adapter.embed(torch.tensor([ids]))
        for layer in range(adapter.n_layers):
            h = adapter.block(layer, h, frame)


def child(variant: str, n_tokens: int, threads: int) -> dict:
    """Build the model and run ``variant`` once: its memory rise (MB), wall and CPU seconds."""
    attention, work = VARIANTS[variant]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=n_tokens)
    model = AutoModelForCausalLM.from_config(config).eval().requires_grad_(False)
    engine = Engine(model, tokenizer=None, attention=attention, max_trace_bytes=1 << 34)
    engine.trace(list(range(8)))  # warm up (kernels, allocator) on a short prompt
    ids = torch.randint(0, config.vocab_size, (n_tokens,), generator=torch.Generator().manual_seed(1)).tolist()
    before, start, cpu = max(_current_mb(), _peak_mb()), time.perf_counter(), time.process_time()
    if work == "blocks":
        _blocks(engine, ids)
    else:
        engine.trace(ids)
    layers = {"every pattern": range(engine.spec.n_layers), "one pattern": [engine.spec.n_layers // 2]}
    kept = [engine.pattern(ids, layer) for layer in layers.get(work, [])]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert all(p.shape[-1] == n_tokens for p in kept)
    return {"rise_mb": _peak_mb() - before, "seconds": seconds, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=tuple(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tokens, args.threads)))
        return
    print(f"GPT-2-small shape (random weights), {args.tokens} tokens, {args.threads} thread(s)")
    results = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--tokens", str(args.tokens),
                              "--threads", str(args.threads)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{variant}: the child failed (exit {out.returncode}): {out.stderr.strip()[-400:]}")
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'variant':<28} {'peak memory rise':>17} {'x eager':>8} {'wall':>7} {'CPU':>7} {'CPU x eager':>12}")
    for variant, r in results.items():
        eager = results[variant.split(",")[0] + ", eager"]
        print(f"{variant:<28} {r['rise_mb']:>14.0f} MB {r['rise_mb'] / max(eager['rise_mb'], 1.0):>8.2f} "
              f"{r['seconds']:>6.1f}s {r['cpu']:>6.1f}s {r['cpu'] / eager['cpu']:>12.2f}")


if __name__ == "__main__":
    main()
