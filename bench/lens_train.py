"""Time to the first lens view: compact-lens training throughput on GPT-2 small's shape, here and on an H100.

    python bench/lens_train.py [--tokens 32] [--repeats 3] [--utilisation 0.4]

On a GPT-2-small-shaped model with random weights (12 layers of 12 heads, d_model 768,
d_vocab 50,257), one training step of the compact lenses of one layer (its 12 heads) on
``--tokens`` tokens, as ``lens train`` runs it (one clean forward, every head's lens, the KL's
gradient written directly, Adam), against a naive step (head by head, autograd through
log_softmax and kl_div), with 1 thread and with 2. A step for all 12 layers is the clean forward
plus 12 layers' lens work (the lens work is over 99% of the FLOPs). The tokens a useful lens
needs are taken from the demo's shipped compact lenses (the step they were kept at, times their
batch of 32 lines of at most 64 tokens); GPT-2 small on real text will likely need more, so
the times are lower bounds. The H100 figure is FLOPs / (peak x utilisation), float32 on TF32
tensor cores; lens training runs on the CPU today, so it is what moving it to the GPU would give.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.shapes import gpt2_small_engine  # noqa: E402
from engine.trace import pad_batch  # noqa: E402
from lens.evaluate import batch_kl  # noqa: E402
from lens.lenses import Unembed, new_layer_lens  # noqa: E402
from promptsets.paths import DEMO_DIR  # noqa: E402

LAYER = 6
DEMO_BEST_STEP, DEMO_BATCH, DEMO_MAX_LEN = 6_050, 32, 64  # the demo's shipped compact lenses (README)
H100_TF32_TFLOPS = 494.7  # dense TF32 tensor-core peak of an H100 SXM


def lens_flops_per_token(d_model: int, d_vocab: int, n_heads: int) -> float:
    """FLOPs of one compact lens training step per token and head set: translator and unembedding,
    forward (2dV + 2d^2), gradient to the input (2dV + 2d^2) and to the translator (2d^2)."""
    return n_heads * (4 * d_model * d_vocab + 6 * d_model * d_model)


def forward_flops_per_token(engine) -> float:
    """About 2 FLOPs per parameter per token for the model's clean forward (the logits included)."""
    return 2 * sum(p.numel() for p in engine.model.parameters())


def fast_step(engine, lens, unembed, opt, batch) -> None:
    """One step as ``lens train`` runs it."""
    opt.zero_grad(set_to_none=True)
    batch_kl(engine, {LAYER: lens}, unembed, batch, backward=True)
    opt.step()


def naive_step(engine, lens, unembed, opt, batch) -> None:
    """One step head by head with autograd through log_softmax and kl_div (the textbook way)."""
    opt.zero_grad(set_to_none=True)
    got = engine.capture(batch, (LAYER,), ("head_writes",))
    writes, target = got.at("head_writes", LAYER), got.log_probs
    for h in range(engine.spec.n_heads):
        logits = lens(writes[:, h : h + 1], unembed, slice(h, h + 1))[:, 0]
        F.kl_div(F.log_softmax(logits, -1), target, log_target=True, reduction="batchmean").backward()
    opt.step()


def median_s(step, repeats: int) -> float:
    """Median seconds of ``step()`` after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def useful_tokens() -> int:
    """Tokens the demo's compact lenses trained on until their best validation step (real tokens of its lines)."""
    from engine import Engine
    from lens.data import read_texts, tokenize

    engine = Engine.load(DEMO_DIR)
    seqs = tokenize(engine, read_texts(DEMO_DIR / "corpus.txt")[:2000], DEMO_MAX_LEN)
    mean_len = sum(len(s) for s in seqs) / len(seqs)
    return int(DEMO_BEST_STEP * DEMO_BATCH * mean_len)


def human(seconds: float) -> str:
    """``seconds`` as s, min, h or days."""
    for unit, size in (("days", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def measure(engine, tokens: int, repeats: int, threads: int) -> dict[str, float]:
    """Seconds per step of one layer's lenses (fast and naive) and of the clean forward alone, at ``threads``."""
    torch.set_num_threads(threads)
    unembed = Unembed.from_adapter(engine.adapter)
    gen = torch.Generator().manual_seed(0)
    batch = pad_batch([torch.randint(0, engine.spec.d_vocab, (tokens,), generator=gen).tolist()])
    out = {}
    for name, step in (("fast", fast_step), ("naive", naive_step)):
        torch.manual_seed(0)
        lens = new_layer_lens("compact", engine.spec.n_heads, unembed)
        opt = torch.optim.Adam(lens.parameters(), lr=3e-3)
        out[name] = median_s(lambda: step(engine, lens, unembed, opt, batch), repeats)
    out["forward"] = median_s(lambda: engine.capture(batch, (LAYER,), ("head_writes",)), repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32, help="tokens per measured step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--utilisation", type=float, default=0.4, help="share of the H100's peak reached")
    args = parser.parse_args()
    engine = gpt2_small_engine()
    s = engine.spec
    print(f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"GPT-2-small shape, random weights, compact lenses of layer {LAYER} ({s.n_heads} heads), "
          f"{args.tokens} tokens per step")
    per_layer = lens_flops_per_token(s.d_model, s.d_vocab, s.n_heads)
    per_token = forward_flops_per_token(engine) + s.n_layers * per_layer
    need = useful_tokens()
    print(f"FLOPs per token: one layer's lenses {per_layer / 1e9:.2f} G, all {s.n_layers} layers with the clean "
          f"forward {per_token / 1e9:.1f} G; a useful lens: {need / 1e6:.1f} M tokens (the demo's shipped lenses)")
    for threads in (1, 2):
        t = measure(engine, args.tokens, args.repeats, threads)
        layer_tps = args.tokens / t["fast"]
        all_s = t["forward"] + s.n_layers * (t["fast"] - t["forward"])
        print(f"\n{threads} thread(s): one layer's lenses {layer_tps:.1f} tokens/s "
              f"({per_layer * layer_tps / 1e9:.0f} GFLOP/s); naive {args.tokens / t['naive']:.1f} tokens/s; "
              f"naive / fast time = {t['naive'] / t['fast']:.2f}x")
        print(f"  all {s.n_layers} layers: {args.tokens / all_s:.2f} tokens/s -> a useful lens set in "
              f"{human(need * all_s / args.tokens)}; the first layer alone in {human(need / layer_tps)}")
    h100 = H100_TF32_TFLOPS * 1e12 * args.utilisation
    print(f"\nOne H100 (TF32 peak {H100_TF32_TFLOPS:.0f} TFLOP/s at {args.utilisation:.0%}): all {s.n_layers} layers "
          f"in {human(need * per_token / h100)}, one layer in {human(need * per_layer / h100)}")


if __name__ == "__main__":
    main()
