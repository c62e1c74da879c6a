"""Runs of one prompt with interventions: compiled into hooks, run under the engine's lock, checked for NaN.

The Engine's run methods find the prompt's clean trace (the prefix cache) and call these. A run
without interventions is the clean run itself; a run whose output is not finite raises NonFiniteError
naming the intervention that most likely produced it.
"""

from __future__ import annotations

from typing import Sequence

import torch

from engine.adapter import Adapter
from engine.batch import run_rows
from engine.errors import InterventionError, NonFiniteError
from engine.forward import run_last_logits, run_site
from engine.hooked import Hook, blame
from engine.interventions import Intervention, compile_hooks
from engine.results import RunResult
from engine.spec import ModelSpec
from engine.trace import ACTIVATION_SITES, Trace


def check_samples(samples: int) -> None:
    """InterventionError unless ``samples`` is a whole number >= 1."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InterventionError(f"samples must be a whole number >= 1, got {samples!r}")


def check_activation_site(site: str) -> None:
    """InterventionError naming the choices unless ``site`` is one of :data:`ACTIVATION_SITES`."""
    if site not in ACTIVATION_SITES:
        raise InterventionError(f"unknown site {site!r}; choose one of {', '.join(ACTIVATION_SITES)}")


def _finite(x: torch.Tensor) -> bool:
    """Whether every value is finite; a finite sum proves it at a fraction of the cost."""
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def _checked(x: torch.Tensor, hooks: Sequence[Hook]) -> torch.Tensor:
    """``x`` if every value is finite, else NonFiniteError blaming the likeliest of ``hooks``."""
    if not _finite(x):
        raise NonFiniteError(
            f"the run produced NaN or inf, most likely because of {blame(hooks)}; "
            "lower its intensity or scale")
    return x


def _compile(adapter: Adapter, spec: ModelSpec, trace: Trace, interventions: Sequence[Intervention],
             samples: int) -> list[Hook]:
    return compile_hooks(tuple(interventions), trace.n_pos, samples, spec, adapter.device, adapter.dtype)


def run_one(adapter: Adapter, spec: ModelSpec, lock, trace: Trace, interventions: Sequence[Intervention],
            samples: int, use_cache: bool) -> RunResult:
    """Last-position predictions on ``trace``'s prompt with ``interventions``, ``samples`` noise draws as one batch.

    ``use_cache`` restarts from the trace (the prefix cache); without it the whole prompt is rerun.
    """
    clean = trace.logits[-1].to("cpu", torch.float32)
    hooks = _compile(adapter, spec, trace, interventions, samples)
    if not hooks:
        return RunResult.from_logits(clean.unsqueeze(0), clean, samples)
    batch = samples if any(h.stochastic for h in hooks) else 1
    with lock, torch.no_grad():
        logits = run_last_logits(adapter, trace, hooks, batch, use_cache=use_cache)
    return RunResult.from_logits(_checked(logits.to("cpu", torch.float32), hooks), clean, samples)


def run_many(adapter: Adapter, spec: ModelSpec, lock, trace: Trace, runs: Sequence[Sequence[Intervention]],
             samples: int, max_rows: int) -> list[RunResult]:
    """:func:`run_one` for each of ``runs``, as rows of batched forwards of at most ``max_rows`` rows."""
    clean = trace.logits[-1].to("cpu", torch.float32)
    compiled = [_compile(adapter, spec, trace, r, samples) for r in runs]
    rows = samples if any(h.stochastic for hooks in compiled for h in hooks) else 1
    results = [RunResult.from_logits(clean.unsqueeze(0), clean, samples)] * len(runs)
    for b, logits in run_rows(adapter, trace, compiled, rows, max_rows, lock).items():
        results[b] = RunResult.from_logits(_checked(logits, compiled[b]), clean, samples)
    return results


def activations(adapter: Adapter, spec: ModelSpec, lock, trace: Trace, interventions: Sequence[Intervention],
                site: str) -> torch.Tensor:
    """``(n_layers, pos, width)`` CPU float32 activations at ``site`` under ``interventions`` (noise sample 0)."""
    hooks = _compile(adapter, spec, trace, interventions, 1)
    if not hooks:
        return trace.stack(site).to("cpu", torch.float32, copy=True)
    with lock, torch.no_grad():
        acts = run_site(adapter, trace, hooks, site).to("cpu", torch.float32)
    return _checked(acts, hooks)
