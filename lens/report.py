"""Plain-text tables of an evaluation and of lens sizes, for the command line."""

from __future__ import annotations

from typing import Sequence

from lens.evaluate import RESID_NAME, EvalResult
from lens.kinds import params_per_head
from lens.storage import LensSet

GPT2_SMALL = dict(n_layers=12, n_heads=12, d_model=768, d_vocab=50257)


CONSTANT_NAME = "best constant"


def _columns(result: EvalResult, constant: float | None) -> list[tuple[str, object]]:
    """(name, (n_layers,) KL) of every column: resid logit lens, the head-write lenses, the constant."""
    cols = [(RESID_NAME, result.resid_kl)] + [(n, result.kl[i]) for i, n in enumerate(result.names)]
    if constant is not None:
        cols.append((CONSTANT_NAME, [constant] * len(result.layers)))
    return cols


def kl_table(result: EvalResult, constant: float | None = None) -> list[str]:
    """One line per layer: held-out KL of every lens (and of the best constant), and which is lowest."""
    cols = _columns(result, constant)
    width = max(len(n) for n, _ in cols) + 2
    lines = [f"held-out KL(final || lens) in nats, mean over heads and {result.n_tokens} positions "
             f"of {result.n_texts} texts",
             "layer " + "".join(n.rjust(width) for n, _ in cols) + "  lowest"]
    for j, layer in enumerate(result.layers):
        row = [float(v[j]) for _, v in cols]
        best = cols[min(range(len(row)), key=row.__getitem__)][0]
        lines.append(f"{layer:>5} " + "".join(f"{v:{width}.4f}" for v in row) + f"  {best}")
    return lines


def _verdict(claim: str, layers: tuple[int, ...], holds) -> str:
    """``claim: yes`` if ``holds`` is true at every layer, else ``NO`` and the layers where it fails."""
    failing = [layer for layer, ok in zip(layers, holds) if not ok]
    return f"{claim} at every layer: " + ("yes" if not failing else f"NO (fails at layers {failing})")


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


def goal_lines(result: EvalResult, compact: str | None, full: str | None, constant: float | None = None) -> list[str]:
    """Each comparison that matters, checked at every layer and printed as ``yes`` or ``NO (layers)``.

    Every trained lens against the logit lens on head writes, on the residual stream, and the best
    constant distribution; and compact against full.
    """
    lines = []
    bars = [("logit lens (head writes)", result.row("logit lens (head writes)")), (RESID_NAME, result.resid_kl)]
    if constant is not None:
        bars.append((CONSTANT_NAME, [constant] * len(result.layers)))
    for name in (compact, full):
        if name is not None:
            for bar, values in bars:
                lines.append(_verdict(f"{name} below the {bar}", result.layers,
                                      [a < b for a, b in zip(result.row(name), values)]))
    if compact is not None and full is not None:
        lines.append(_verdict("compact KL <= full KL", result.layers,
                              [a <= b for a, b in zip(result.row(compact), result.row(full))]))
    return lines
