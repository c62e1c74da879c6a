"""Edit many facts with several methods and score each edit: the rows of ``python -m edit sweep`` and the
bench, the sweep as a resumable job, and the summaries of its rows.

The resumable job: an output folder holds ``edits.json`` (what is swept: model fingerprint, precision,
settings, digests of the cases, the texts and the topic clusters) and ``edits.csv``, each edit's row
appended as soon as it is measured; rerunning with the same folder skips the rows already there, and
rerunning with other settings is refused, before anything is written, rather than mixed. Each row is
computed on its own (no batch shares two edits), so a resumed row equals an uninterrupted one, however
many cells a task runs. The job is the one resumable sweep job (:func:`sweeps.run_job`); this module
describes its grid (fact x method), its cell (:func:`chunk_rows`) and its row.

Summaries: one line per method, the tables the bench and the CLI print.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from cluster.spec import Cluster, load_cluster
from edit.methods import apply_edit
from edit.score import EditCase, EditScores, RobustnessCurves, robustness_curves, score_edit
from edit.spec import EditResumeError, EditSpec
from engine.readout import Progress
from memory.evaluate import bootstrap_median
from sweeps import Identity, Runner, Sweep, SweepFiles, run_job
from sweeps.chunks import fixed_chunks
from sweeps.identity import digest, engine_identity
from sweeps.runners import LocalRunner


CURVES = ("edited", "learned", "edited_random", "learned_random")


@dataclass(frozen=True)
class SweepSettings:
    """What a sweep measures besides the edit itself: the impairment and the damage text sample."""

    mode: str = "noise"
    intensities: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    samples: int = 8
    seed: int = 0
    baseline_seeds: tuple[int, ...] = (0,)
    learned_neighbours: int = 4  # neighbours that join the edit prompt's old answer as learned facts
    clusters: str = ""  # a folder of topic clusters ("<topic>.json"); "" skips the robustness curves


def case_key(i: int, case: EditCase) -> str:
    """A stable row key: the case's index and its subject and relation."""
    return f"{i}:{case.fact.subject}:{case.fact.relation}"


def topic_cluster(folder: str, topic: str, engine) -> Cluster | None:
    """The topic's cluster in ``folder`` (``<topic>.json``), or None when there is none."""
    path = Path(folder) / f"{topic}.json"
    return load_cluster(path, engine) if folder and topic and path.is_file() else None


def edit_row(engine, key: str, case: EditCase, spec: EditSpec, settings: SweepSettings,
             key_texts: Sequence[str], heldout: Sequence[str], learned: dict) -> dict:
    """Apply one edit, score it, measure its robustness; one flat row (``learned`` caches per-case curves)."""
    result = apply_edit(engine, case.fact, spec, key_texts)
    scores = score_edit(engine, case, result.delta, heldout)
    fact = case.fact
    row = dict(key=key, relation=fact.relation, topic=case.topic, prompt=fact.prompt, subject=fact.subject,
               answer=fact.answer, new=fact.new, method=spec.method, label=spec.label, layer=spec.layer,
               steps=result.steps, p_trained=result.p_trained, efficacy=scores.efficacy,
               efficacy_p=scores.efficacy_p, generalisation=scores.generalisation,
               specificity=scores.specificity, damage=scores.damage)
    cluster = topic_cluster(settings.clusters, case.topic, engine)
    curves = None
    if cluster is not None:
        curves = robustness_curves(engine, case, result.delta, cluster, settings.mode, settings.intensities,
                                   settings.samples, settings.seed, settings.baseline_seeds,
                                   learned=learned.get(key), neighbours=settings.learned_neighbours)
        learned[key] = (curves.learned, curves.learned_random)
    return row | curve_columns(curves, len(settings.intensities))


def curve_columns(curves: RobustnessCurves | None, n: int) -> dict:
    """Halving intensities and the curves themselves (";"-joined) of one edit; nan without curves."""
    out = {}
    for name in CURVES:
        values = getattr(curves, name) if curves is not None else np.full(n, np.nan)
        out[f"halving_{name}"] = curves.halving(name) if curves is not None else math.nan
        out[f"curve_{name}"] = ";".join(f"{v:.4g}" for v in values)
    return out


Cell = tuple[int, int]  # (case index, spec index)


def edit_chunks(n_cases: int, n_specs: int, chunk: int | None = None) -> list[list[Cell]]:
    """Every (case, spec) cell, case-major, cut every ``chunk`` cells (default: one case's specs, so a
    case's learned curves are measured once). Each cell is its own edit, so its row does not depend on
    the chunk: ``chunk`` only sets how much one task (one Ray task) does."""
    cells = [(i, j) for i in range(n_cases) for j in range(n_specs)]
    return fixed_chunks(cells, chunk or max(1, n_specs))


def chunk_rows(engine, cells: Sequence[Cell], cases: Sequence[EditCase], specs: Sequence[EditSpec],
               settings: SweepSettings, key_texts: Sequence[str] = (), heldout: Sequence[str] = ()) -> list[dict]:
    """:func:`edit_row` of each cell of a chunk, one after another (the task a runner, here or a Ray worker, runs)."""
    learned: dict = {}
    return [edit_row(engine, case_key(i, cases[i]), cases[i], specs[j], settings, key_texts, heldout, learned)
            for i, j in cells]


def sweep_edits(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings,
                key_texts: Sequence[str] = (), heldout: Sequence[str] = (), progress: Progress | None = None,
                runner: Runner | None = None, chunk: int | None = None) -> list[dict]:
    """Every (case, spec) row, case-major, in memory (the resumable sweep writing a CSV is :func:`run_edit_job`).

    ``runner`` (default: this process; a ``sweeps.EnginePool`` runs on Ray workers) computes ``chunk``
    cells per task (see :func:`edit_chunks`).
    """
    chunks = edit_chunks(len(cases), len(specs), chunk)
    found, total = {}, len(cases) * len(specs)
    for cells, rows in (runner or LocalRunner(engine)).map(chunk_rows, chunks, tuple(cases), tuple(specs),
                                                           task_settings(settings), tuple(key_texts), tuple(heldout)):
        for cell, row in zip(cells, rows):
            found[cell] = row
            if progress is not None:
                progress(len(found), total)
    return [found[cell] for part in chunks for cell in part]


def task_settings(settings: SweepSettings) -> SweepSettings:
    """``settings`` with its clusters folder as an absolute path, since a Ray worker may run in another folder."""
    return replace(settings, clusters=str(Path(settings.clusters).resolve())) if settings.clusters else settings


def method_specs(methods: Sequence[str], base: EditSpec) -> list[EditSpec]:
    """One spec per method, sharing ``base``'s layer, rank, alpha and budget."""
    return [replace(base, method=m) for m in methods]


CSV_NAME = "edits.csv"
META_NAME = "edits.json"
COLUMNS = ("key", "relation", "topic", "prompt", "subject", "answer", "new", "method", "label", "layer", "dtype",
           "steps",
           "p_trained", "efficacy", "efficacy_p", "generalisation", "specificity", "damage",
           *(f"halving_{c}" for c in CURVES), *(f"curve_{c}" for c in CURVES))


def identity(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings,
             key_texts: Sequence[str] = (), heldout: Sequence[str] = ()) -> dict:
    """What makes two sweeps the same job: everything that changes a row's numbers."""
    topics = sorted({c.topic for c in cases if c.topic})
    clusters = {t: (Path(settings.clusters) / f"{t}.json") for t in topics} if settings.clusters else {}
    return engine_identity(engine) | {
        "specs": [asdict(s) for s in specs], "settings": json.loads(json.dumps(asdict(settings))),
        "n_cases": len(cases), "cases_sha256": digest([asdict(c) for c in cases]),
        "key_texts_sha256": digest(list(key_texts)), "n_heldout": len(heldout),
        "heldout_sha256": digest(list(heldout)),
        "clusters_sha256": digest({t: p.read_text(encoding="utf-8") for t, p in clusters.items() if p.is_file()}),
    }


def _stored_key(row: dict) -> tuple[str, str] | None:
    return (row["key"], row["label"]) if row["key"] and row["label"] else None


def _written(row: dict, dtype: str) -> dict:
    """One computed row as the CSV holds it: with its precision, floats as ``repr`` writes them."""
    return {k: (repr(float(v)) if isinstance(v, float) else v) for k, v in (row | {"dtype": dtype}).items()}


def run_edit_job(engine, cases: Sequence[EditCase], specs: Sequence[EditSpec], settings: SweepSettings, out: Path,
                 key_texts: Sequence[str] = (), heldout: Sequence[str] = (), progress: Progress | None = None,
                 runner: Runner | None = None, chunk: int | None = None) -> list[dict]:
    """Run (or resume) the sweep into ``out/edits.csv``; returns every row, old and new, fact by fact.

    The one resumable job (:func:`sweeps.run_job`) runs it: a folder of another sweep is refused before
    anything is written, and while it runs the folder's lock refuses a second writer. ``runner``
    (default: this process; a ``sweeps.EnginePool`` runs on Ray workers) computes ``chunk`` cells per
    task (default: one fact's methods; see :func:`edit_chunks`); this process writes every row.
    """
    out = Path(out)
    ident = Identity(identity(engine, cases, specs, settings, key_texts, heldout), EditResumeError)

    def plan() -> Sweep:
        return Sweep(chunks=edit_chunks(len(cases), len(specs), chunk), task=chunk_rows,
                     rows=lambda cell, row: [_written(row, engine.spec.dtype)],
                     key=lambda cell: (case_key(cell[0], cases[cell[0]]), specs[cell[1]].label),
                     stored_key=_stored_key,
                     args=(tuple(cases), tuple(specs), task_settings(settings), tuple(key_texts), tuple(heldout)))

    result = run_job(engine, SweepFiles(out / CSV_NAME, out / META_NAME, COLUMNS), ident, plan, runner, progress)
    # In the grid's order (fact, then method), whatever order the tasks finished in.
    keys = [(case_key(i, case), spec.label) for i, case in enumerate(cases) for spec in specs]
    order = {key: n for n, key in enumerate(keys)}
    return sorted([*result.kept, *result.written], key=lambda row: order.get(_stored_key(row), len(order)))


@dataclass(frozen=True)
class MethodSummary:
    """Means over a method's edits; halving intensities are medians (inf counts as never halving)."""

    label: str
    n: int
    efficacy: float
    generalisation: float
    specificity: float
    damage: float
    halving_edited: float
    halving_learned: float
    halving_edited_random: float

    @property
    def robustness(self) -> float:
        """Edited over learned halving intensity: 1.0 means the edit is as robust as a learned fact."""
        return self.halving_edited / self.halving_learned if self.halving_learned else math.nan


def _mean(rows: Sequence[dict], name: str) -> float:
    values = [float(r[name]) for r in rows if not math.isnan(float(r[name]))]
    return float(np.mean(values)) if values else math.nan


def _median(rows: Sequence[dict], name: str) -> float:
    values = [float(r[name]) for r in rows if not math.isnan(float(r[name]))]
    return float(np.median(values)) if values else math.nan


def share(value: float) -> str:
    """A share as a percentage, or ``n/a`` where nothing was measured (nan)."""
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def damage(value: float) -> str:
    """A loss change in nats per token, or ``n/a`` where no held-out text was scored (nan)."""
    return "n/a" if math.isnan(value) else f"{value:+.4f}"


def scores_line(scores: EditScores) -> str:
    """One line of an edit's scores; a score with nothing to measure reads ``n/a``, never ``nan``."""
    line = (f"efficacy {share(scores.efficacy)} (p {scores.efficacy_p:.3f})  "
            f"generalisation {share(scores.generalisation)}  specificity {share(scores.specificity)}  ")
    if math.isnan(scores.damage):
        return line + "damage not measured (--heldout 0)"
    return line + f"damage {damage(scores.damage)} nats/token"


def summarise(rows: Sequence[dict]) -> list[MethodSummary]:
    """One summary per method label, in the order the labels first appear."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = []
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        out.append(MethodSummary(label, len(mine), _mean(mine, "efficacy"), _mean(mine, "generalisation"),
                                 _mean(mine, "specificity"), _mean(mine, "damage"), _median(mine, "halving_edited"),
                                 _median(mine, "halving_learned"), _median(mine, "halving_edited_random")))
    return out


def format_table(summaries: Sequence[MethodSummary], mode: str = "noise") -> str:
    """A Markdown table of the summaries."""
    lines = [f"| method | edits | efficacy | generalisation | specificity | damage (nats/token) | "
             f"{mode} halving: edited | learned | edited / learned | edited, random clusters |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.label} | {s.n} | {share(s.efficacy)} | {share(s.generalisation)} | {share(s.specificity)} | "
                     f"{damage(s.damage)} | {s.halving_edited:.2f} | {s.halving_learned:.2f} | {s.robustness:.2f} | "
                     f"{s.halving_edited_random:.2f} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class PairedSummary:
    """Edited against learned halving, prompt by prompt: the same prompt's edited answer vs its learned one.

    ``diff``: median over prompts of (edited - learned) halving intensity, ``diff_ci`` its 95% bootstrap
    interval; ``*_random`` the same under random clusters of the same per-layer counts. Halvings beyond
    the grid (never halving) count as the grid's top: ``censored`` (edited, learned) of them on the own
    cluster, ``censored_random`` on random ones.
    """

    label: str
    n: int
    p_trained: float
    halving_edited: float
    halving_learned: float
    diff: float
    diff_ci: tuple[float, float]
    edited_random: float
    learned_random: float
    diff_random: float
    diff_random_ci: tuple[float, float]
    censored: tuple[int, int]
    censored_random: tuple[int, int]


def _paired(rows: Sequence[dict], edited: str, learned: str, top: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Per row, (edited, learned) halving capped at ``top``, and how many of each were beyond it;
    rows where either is nan are dropped."""
    e = np.array([float(r[edited]) for r in rows])
    l_ = np.array([float(r[learned]) for r in rows])
    keep = ~(np.isnan(e) | np.isnan(l_))
    e, l_ = e[keep], l_[keep]
    censored = (int((e > top).sum()), int((l_ > top).sum()))
    return np.minimum(e, top), np.minimum(l_, top), censored


def paired_summaries(rows: Sequence[dict], top: float) -> list[PairedSummary]:
    """One paired summary per method label; ``top`` is the grid's harshest intensity (the censoring point)."""
    out = []
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        e, l_, cens = _paired(mine, "halving_edited", "halving_learned", top)
        er, lr, cens_r = _paired(mine, "halving_edited_random", "halving_learned_random", top)
        out.append(PairedSummary(
            label, len(e), _median(mine, "efficacy_p"), float(np.median(e)), float(np.median(l_)),
            float(np.median(e - l_)), bootstrap_median(e - l_), float(np.median(er)), float(np.median(lr)),
            float(np.median(er - lr)), bootstrap_median(er - lr), cens, cens_r))
    return out


def _ci(ci: tuple[float, float]) -> str:
    return f"{ci[0]:+.2f} to {ci[1]:+.2f}"


def format_paired(summaries: Sequence[PairedSummary], mode: str = "noise") -> str:
    """A Markdown table: per method, the paired halving figures on the own-relation cluster and on random ones."""
    lines = [f"| method | pairs | p(new) after the edit (median) | {mode} halving: edited | learned | "
             "median paired difference (95% CI) | never halved: edited / learned | random clusters: edited | learned | "
             "paired difference (95% CI) | never halved |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.label} | {s.n} | {s.p_trained:.3f} | {s.halving_edited:.2f} | {s.halving_learned:.2f} | "
                     f"{s.diff:+.2f} ({_ci(s.diff_ci)}) | {s.censored[0]} / {s.censored[1]} | {s.edited_random:.2f} | "
                     f"{s.learned_random:.2f} | {s.diff_random:+.2f} ({_ci(s.diff_random_ci)}) | "
                     f"{s.censored_random[0]} / {s.censored_random[1]} |")
    return "\n".join(lines)


def paired_verdicts(summaries: Sequence[PairedSummary]) -> list[str]:
    """What the paired intervals support, one line per method: fragile, sturdier, or no difference shown."""
    lines = []
    for s in summaries:
        lo, hi = s.diff_ci
        verdict = ("edited facts halve at lower noise than the same prompts' learned answers" if hi < 0 else
                   "edited facts halve at higher noise than learned ones" if lo > 0 else
                   "no paired difference shown (the interval holds 0)")
        lines.append(f"{s.label}: {verdict}; median paired difference {s.diff:+.2f} ({_ci(s.diff_ci)})")
    return lines
