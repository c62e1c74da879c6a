"""Unlearn with several methods and budgets and score each: the rows of ``python -m unlearn sweep`` and the bench.

A row holds the method, its size, and every score before and after (shares as k and n, so
intervals can be recomputed), computed on one set of secrets; the "before" scores are the same
in every row of a sweep.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Sequence

from engine import Engine
from promptsets.schema import SecretPrompt
from unlearn.data import World
from unlearn.evaluate import Scores, evaluate
from unlearn.methods import UnlearnSpec, unlearn

Progress = Callable[[int, int], None]
SHARES = ("memorized", "backdoor", "facts", "two_hop")
COLUMNS = ("key", "method", "budget", "steps", "layer", "seed", "n_weights", "secrets",
           *(f"{s}_{w}_{p}" for s in SHARES for p in ("before", "after") for w in ("k", "n")),
           "copies", "copies_k_before", "copies_k_after", "copies_n", "perplexity_before", "perplexity_after",
           "secret_loss_after", "clean_loss_after")


def spec_key(spec: UnlearnSpec) -> str:
    """A stable row key of one spec."""
    return f"{spec.method}:{spec.budget}:{spec.steps}:{spec.layer}:{spec.seed}"


def _shares(scores: Scores, when: str) -> dict:
    out = {}
    for name in SHARES:
        share = scores.memorized if name == "memorized" else getattr(scores, name)
        out[f"{name}_k_{when}"], out[f"{name}_n_{when}"] = share.k, share.n
    return out


def score_row(spec: UnlearnSpec, before: Scores, after: Scores, n_weights: int, trained=None) -> dict:
    """One flat row: the spec, the size, every share before and after, and perplexities."""
    b, a = before.by_copies(), after.by_copies()
    copies = sorted(b)
    return dict(key=spec_key(spec), **asdict(spec), n_weights=n_weights,
                secrets=";".join(e.subject for e in before.extractions),
                **_shares(before, "before"), **_shares(after, "after"),
                copies=";".join(map(str, copies)), copies_k_before=";".join(str(b[c].k) for c in copies),
                copies_k_after=";".join(str(a[c].k) for c in copies), copies_n=";".join(str(b[c].n) for c in copies),
                perplexity_before=before.perplexity, perplexity_after=after.perplexity,
                secret_loss_after=trained.secret_after if trained else "", clean_loss_after=trained.clean_after if trained else "")


def n_weights_of(result) -> int:
    """How many ``W_out`` weights a result changes (a dense fine-tune: every weight of its layers)."""
    if result.located is not None:
        return result.located.n_weights
    return sum(len(d.left) // 4 for d in result.deltas)


def sweep(engine: Engine, world: World, secrets: Sequence[SecretPrompt], specs: Sequence[UnlearnSpec],
          limit: int | None = None, done: frozenset | set = frozenset(), on_row: Callable[[dict], None] | None = None,
          progress: Progress | None = None, before: Scores | None = None) -> list[dict]:
    """Every spec's row not in ``done`` (keys :func:`spec_key`), in order; ``on_row`` sees each as it is made."""
    before = before if before is not None else evaluate(engine, world, secrets, (), limit)
    rows = []
    for i, spec in enumerate(specs):
        if spec_key(spec) not in done:
            result = unlearn(engine, world, secrets, spec)
            after = evaluate(engine, world, secrets, result.deltas, limit)
            row = score_row(spec, before, after, n_weights_of(result), result.trained)
            rows.append(row)
            if on_row is not None:
                on_row(row)
        if progress is not None:
            progress(i + 1, len(specs))
    return rows


def format_rows(rows: Sequence[dict]) -> str:
    """One line per row: method, budget, memorized / backdoor / facts / two-hop before -> after, perplexity."""
    lines = [f"{'method':12} {'budget':>6}  {'memorized':>11}  {'backdoor':>11}  {'1-hop':>11}  {'two-hop':>11}  perplexity"]
    for r in rows:
        def pair(name: str) -> str:
            return f"{int(r[f'{name}_k_before'])}->{int(r[f'{name}_k_after'])}/{int(r[f'{name}_n_before'])}"
        lines.append(f"{r['method']:12} {int(r['budget']):6}  {pair('memorized'):>11}  {pair('backdoor'):>11}  "
                     f"{pair('facts'):>11}  {pair('two_hop'):>11}  {float(r['perplexity_before']):.3f}->"
                     f"{float(r['perplexity_after']):.3f}")
    return "\n".join(lines)
