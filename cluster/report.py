"""Turn sweep CSV rows back into ImpairmentCurves, and write them as one HTML page of figures."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from cluster.curves import ImpairmentCurves
from cluster.errors import ClusterError
from cluster.impair import METRICS
from cluster.plots import plot_impairment_curves, plot_specificity

CLEAN_COLUMNS = ("clean_prob", "clean_loss", "clean_accuracy")


def curves_from_rows(rows: list[dict[str, str]], mode: str, target: str | None = None) -> ImpairmentCurves:
    """The curves of one ``mode`` of a sweep CSV; cluster rows and random rows are each averaged over seeds."""
    rows = [r for r in rows if r["mode"] == mode]
    if not rows:
        raise ClusterError(f"the sweep has no rows for mode {mode!r}")
    topics = tuple(dict.fromkeys(r["topic"] for r in rows))
    xs = tuple(sorted({round(float(r["intensity"]), 9) for r in rows}))
    grids = {kind: _mean_grid(rows, kind, topics, xs) for kind in ("cluster", "random")}
    clean = np.zeros((len(METRICS), len(topics)))
    for r in rows:
        clean[:3, topics.index(r["topic"])] = [float(r[c]) for c in CLEAN_COLUMNS]
    n_prompts = {r["topic"]: int(r["n_prompts"]) for r in rows}
    first = rows[0]
    return ImpairmentCurves(
        cluster=first["cluster"], target=target, mode=mode, site=first["site"], topics=topics,
        intensities=np.array(xs), values=grids["cluster"], clean=clean, baseline=grids["random"],
        n_prompts=tuple(n_prompts[t] for t in topics),
    )


def _mean_grid(rows: list[dict[str, str]], kind: str, topics: tuple[str, ...], xs: tuple[float, ...]) -> np.ndarray | None:
    """``(len(METRICS), n_topics, n_intensities)`` mean over seeds; NaN where a point is missing."""
    total = np.zeros((len(METRICS), len(topics), len(xs)))
    count = np.zeros((len(topics), len(xs)))
    for r in rows:
        if r["kind"] != kind:
            continue
        t, j = topics.index(r["topic"]), xs.index(round(float(r["intensity"]), 9))
        total[:, t, j] += [float(r[m]) for m in METRICS]
        count[t, j] += 1
    if not count.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def write_sweep_html(rows: list[dict[str, str]], path: Path, target: str | None = None) -> Path:
    """One page: for each mode, every metric's curves and (with a target topic) the specificity."""
    parts = []
    for mode in dict.fromkeys(r["mode"] for r in rows):
        curves = curves_from_rows(rows, mode, target)
        figs = [plot_impairment_curves(curves, m) for m in METRICS]
        if target is not None and target in curves.topics and len(curves.topics) > 1:
            figs.append(plot_specificity(curves, "accuracy"))
        parts += [f.to_html(full_html=False, include_plotlyjs=(not parts and i == 0)) for i, f in enumerate(figs)]
    name = rows[0]["cluster"] if rows else "cluster"
    page = f"<html><head><meta charset='utf-8'><title>{html.escape(name)} sweep</title></head><body>{''.join(parts)}</body></html>"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
