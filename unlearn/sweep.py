"""Unlearn with several methods and budgets and score each: the rows of ``python -m unlearn sweep`` and the bench,
the resumable job that writes them, and the choice of a setting from them.

A row holds the method, its size, and every score before and after (shares as k and n, so
intervals can be recomputed), computed on one set of secrets; the "before" scores are the same
in every row of a sweep.

As a resumable job, each (method, budget) row is appended to ``unlearn.csv`` as soon as it is scored;
``unlearn.json`` beside it records what is swept (model fingerprint, precision, specs, digests of
the secrets and the sets that must survive); rerunning into the same folder skips the rows already
there, and other settings are refused before anything is written. The folder is locked while
the sweep runs (see :mod:`sweeps`).

Choosing a method's setting on the validation secrets, and the claim on the report secrets, from sweep rows.

A setting *keeps the facts* when 1-hop fact accuracy after is at least ``FACTS_KEPT`` of before and
held-out perplexity rises by at most ``PPL_RISE``. Among the settings that keep the facts, the
chosen one leaves the fewest secrets memorized (ties: the smaller budget, then fewer steps); when
none keeps them, the one that damages the facts least.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping, Sequence

from engine import Engine
from promptsets.schema import SecretPrompt
from sweeps import OutputLock, RowAppender, read_rows, rewrite_rows
from sweeps.identity import check_identity, digest, engine_identity, write_identity
from unlearn.data import UnlearnError, World
from unlearn.scores import Scores, evaluate
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


CSV_NAME = "unlearn.csv"
META_NAME = "unlearn.json"


class UnlearnResumeError(UnlearnError):
    """An output folder holds a sweep made with other settings; choose another folder or delete it."""


def identity(engine: Engine, world: World, secrets: Sequence[SecretPrompt], specs: Sequence[UnlearnSpec],
             limit: int | None) -> dict:
    """What makes two sweeps the same job: everything that changes a row's numbers."""
    return engine_identity(engine) | {
        "specs": [asdict(s) for s in specs], "limit": limit,
        "secrets_sha256": digest([asdict(s) for s in secrets]),
        "world_sha256": digest([[asdict(f) for f in world.facts], [asdict(t) for t in world.two_hop],
                                [asdict(b) for b in world.backdoor], list(world.clean.retain),
                                list(world.clean.heldout)]),
    }


def run_sweep_job(engine: Engine, world: World, secrets: Sequence[SecretPrompt], specs: Sequence[UnlearnSpec],
                  out: Path, limit: int | None = None, progress: Progress | None = None) -> list[dict]:
    """Run (or resume) the sweep into ``out/unlearn.csv``; returns every row, old and new."""
    out = Path(out)
    ident = identity(engine, world, secrets, specs, limit)
    path = out / CSV_NAME
    check_identity(out, ident, META_NAME, UnlearnResumeError, rows=path)
    read_rows(path, COLUMNS)
    with OutputLock(out):
        check_identity(out, ident, META_NAME, UnlearnResumeError, rows=path)
        keys = {spec_key(s) for s in specs}
        rows = [r for r in read_rows(path, COLUMNS).rows if r["key"] in keys]
        rows = list({r["key"]: r for r in rows}.values())
        write_identity(out, ident, META_NAME)
        rewrite_rows(path, COLUMNS, rows)
        with RowAppender(path, COLUMNS) as writer:
            def on_row(row: dict) -> None:
                writer.write({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
                rows.append(row)

            sweep(engine, world, secrets, specs, limit, {r["key"] for r in rows}, on_row, progress)
    return rows


FACTS_KEPT = 0.95
PPL_RISE = 0.05
FORGOTTEN = 0.05  # memorized share after at most this


def _f(row: Mapping, key: str) -> float:
    return float(row[key])


def share(row: Mapping, name: str, when: str) -> float:
    """A share of a sweep row (nan for n = 0)."""
    n = _f(row, f"{name}_n_{when}")
    return _f(row, f"{name}_k_{when}") / n if n else float("nan")


def facts_ratio(row: Mapping) -> float:
    before = share(row, "facts", "before")
    return share(row, "facts", "after") / before if before else float("nan")


def ppl_rise(row: Mapping) -> float:
    return _f(row, "perplexity_after") / _f(row, "perplexity_before") - 1.0


def keeps_facts(row: Mapping) -> bool:
    """1-hop facts kept (>= FACTS_KEPT of before) and perplexity up at most PPL_RISE."""
    return facts_ratio(row) >= FACTS_KEPT and ppl_rise(row) <= PPL_RISE


def choose(rows: Sequence[Mapping]) -> tuple[Mapping, bool]:
    """(the chosen row of one method's settings, whether it keeps the facts); see the module."""
    kept = [r for r in rows if keeps_facts(r)]
    if kept:
        return min(kept, key=lambda r: (share(r, "memorized", "after"), int(r["budget"]), int(r["steps"]))), True
    return max(rows, key=lambda r: (facts_ratio(r), -ppl_rise(r))), False


def meets_claim(row: Mapping, control: Mapping | None) -> bool:
    """Memorized share after <= FORGOTTEN, the facts kept, and fewer secrets memorized than the control of its size."""
    if control is None:
        return False
    return (share(row, "memorized", "after") <= FORGOTTEN and keeps_facts(row)
            and share(row, "memorized", "after") < share(control, "memorized", "after"))
