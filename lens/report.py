"""Plain-text tables of an evaluation and of lens sizes, for the command line."""

from __future__ import annotations

from typing import Sequence

from lens.evaluate import RESID_NAME, EvalResult
from lens.kinds import params_per_head
from lens.storage import LensSet

GPT2_SMALL = dict(n_layers=12, n_heads=12, d_model=768, d_vocab=50257)


def kl_table(result: EvalResult) -> list[str]:
    """One line per layer: held-out KL of every lens, with the logit lens on resid_post first."""
    names = (RESID_NAME, *result.names)
    width = max(len(n) for n in names) + 2
    lines = [f"held-out KL(final || lens) in nats, mean over heads and {result.n_tokens} positions "
             f"of {result.n_texts} texts",
             "layer " + "".join(n.rjust(width) for n in names)]
    for j, layer in enumerate(result.layers):
        row = [result.resid_kl[j], *result.kl[:, j]]
        lines.append(f"{layer:>5} " + "".join(f"{v:{width}.4f}" for v in row))
    return lines


def size_table(lens_sets: Sequence[LensSet]) -> list[str]:
    """Parameters and bytes on disk per layer of each lens set."""
    lines = []
    for lens in lens_sets:
        for layer in lens.layers:
            lines.append(f"{lens.name}, layer {layer}: {lens.n_params(layer):,} parameters, "
                         f"{lens.nbytes(layer):,} bytes")
    return lines


def gpt2_small_sizes(rank: int | None = None) -> list[str]:
    """Compact vs full lens size for a GPT-2-small shape, from shapes alone."""
    s = GPT2_SMALL
    compact = params_per_head("compact", s["d_model"], s["d_vocab"], rank)
    full = params_per_head("full", s["d_model"], s["d_vocab"])
    n = s["n_layers"] * s["n_heads"]
    return [
        f"GPT-2 small shape (d_model {s['d_model']}, d_vocab {s['d_vocab']}): per head compact "
        f"{compact:,} vs full {full:,} parameters; full/compact = {full / compact:.1f}x",
        f"all {n} heads: compact {compact * n / 1e6:.1f} M vs full {full * n / 1e9:.2f} B parameters "
        f"({compact * n * 4 / 2**20:.0f} MiB vs {full * n * 4 / 2**30:.1f} GiB in float32)",
    ]


def goal_lines(result: EvalResult, compact: str | None, full: str | None) -> list[str]:
    """Whether compact <= full at every layer, and both below the logit lens on head writes."""
    base = result.row("logit lens (head writes)")
    lines = []
    for name in (compact, full):
        if name is not None:
            ok = bool((result.row(name) < base).all())
            lines.append(f"{name} below the logit lens (head writes) at every layer: {'yes' if ok else 'NO'}")
    if compact is not None and full is not None:
        ok = bool((result.row(compact) <= result.row(full)).all())
        lines.append(f"compact KL <= full KL at every layer: {'yes' if ok else 'NO'}")
    return lines
