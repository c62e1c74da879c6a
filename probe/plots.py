"""Probe results shown: Plotly figures (accuracy per layer with its baselines, the sparsity curve), and the text
and CSV forms that ``python -m probe`` prints and the page downloads (the retrain table sits with the retrains,
in ``probe.retrain``, which prints it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import plotly.graph_objects as go

from probe.attribute import METHODS, Attribution
from probe.concepts import EMBED
from probe.fit import ProbeReport

KIND_NAMES = {"resid": "residual stream", "mlp_out": "MLP output"}


def layer_name(layer: int) -> str:
    """x-axis label of a layer: "embed" for the embeddings, else "layer N"."""
    return "embed" if layer == EMBED else f"layer {layer}"


def plot_accuracy(report: ProbeReport) -> go.Figure:
    """Held-out accuracy per layer (95% Wilson bars) for each site kind, the shuffled-label probe, and the
    majority baseline as a band; a dotted line marks the layer where the concept appears."""
    fig = go.Figure()
    order = sorted({s.site.layer for s in report.scores})
    x_all = [layer_name(layer) for layer in order]
    fig.add_trace(go.Scatter(x=x_all + x_all[::-1], y=[report.majority_hi] * len(x_all) + [report.majority_lo] * len(x_all),
                             fill="toself", fillcolor="rgba(120,120,120,0.15)", line={"width": 0},
                             name="majority 95%", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x_all, y=[report.majority_acc] * len(x_all), mode="lines", name="majority class",
                             line={"dash": "dash", "color": "grey"}))
    for kind, colour in (("resid", "rgb(33,102,172)"), ("mlp_out", "rgb(178,24,43)")):
        scores = sorted((s for s in report.scores if s.site.kind == kind), key=lambda s: s.site.layer)
        x = [layer_name(s.site.layer) for s in scores]
        fig.add_trace(go.Scatter(
            x=x, y=[s.acc for s in scores], mode="lines+markers", name=f"probe on {KIND_NAMES[kind]}",
            line={"color": colour}, error_y={"type": "data", "symmetric": False,
                                             "array": [s.hi - s.acc for s in scores],
                                             "arrayminus": [s.acc - s.lo for s in scores]}))
        fig.add_trace(go.Scatter(x=x, y=[s.shuffled for s in scores], mode="lines", name=f"shuffled labels ({kind})",
                                 line={"color": colour, "dash": "dot", "width": 1}))
    if report.appears is not None:
        fig.add_vline(x=x_all.index(layer_name(report.appears.layer)), line={"dash": "dot", "color": "green"},
                      annotation_text="appears")
    fig.update_layout(title=f"Held-out accuracy of a {report.data.concept} probe at each layer",
                      xaxis={"title": "layer (last token of the prompt)", "type": "category",
                             "categoryorder": "array", "categoryarray": x_all},
                      yaxis={"title": "held-out accuracy", "range": [0, 1.02]}, height=420, margin={"t": 50})
    return fig


def plot_sparsity(report: ProbeReport) -> go.Figure:
    """Held-out accuracy (95% bars) against the units an L1 probe at the best site keeps, with the majority line."""
    pts = report.path
    fig = go.Figure(go.Scatter(
        x=[p.units for p in pts], y=[p.acc for p in pts], mode="lines+markers", name="L1 probe",
        error_y={"type": "data", "symmetric": False, "array": [p.hi - p.acc for p in pts],
                 "arrayminus": [p.acc - p.lo for p in pts]},
        hovertemplate="%{x} units: accuracy %{y:.3f}<extra></extra>"))
    fig.add_hline(y=report.majority_acc, line={"dash": "dash", "color": "grey"}, annotation_text="majority")
    fig.update_layout(title=f"Sparsity at {report.best.label}: accuracy against units kept",
                      xaxis={"title": "units with a nonzero weight (of d_model)"},
                      yaxis={"title": "held-out accuracy", "range": [0, 1.02]}, height=380, margin={"t": 50})
    return fig


def site_rows(report: ProbeReport) -> list[dict]:
    """One row per site: held-out accuracy and interval, the shuffled-label probe's, the majority's, the C's."""
    return [{"concept": report.data.concept, "site": s.site.kind, "layer": s.site.layer, "acc": round(s.acc, 4),
             "acc_lo": round(s.lo, 4), "acc_hi": round(s.hi, 4), "shuffled": round(s.shuffled, 4),
             "shuffled_lo": round(s.shuffled_lo, 4), "shuffled_hi": round(s.shuffled_hi, 4),
             "majority": round(report.majority_acc, 4), "majority_hi": round(report.majority_hi, 4), "C": s.C}
            for s in report.scores]


def path_rows(report: ProbeReport) -> list[dict]:
    """One row per point of the L1 path at the best site."""
    return [{"concept": report.data.concept, "site": report.best.label, "C": round(p.C, 6), "units": p.units,
             "acc": round(p.acc, 4), "acc_lo": round(p.lo, 4), "acc_hi": round(p.hi, 4)} for p in report.path]


def format_report(report: ProbeReport) -> str:
    """The per-site table, the baselines, where the concept appears and its sparsity, as text."""
    d = report.data
    lines = [f"concept {d.concept}: {len(d.classes)} labels, {len(d.index('train'))} train and "
             f"{len(d.index('heldout'))} held-out subjects",
             f"majority baseline ({report.majority_label}): {report.majority_acc:.3f} "
             f"[{report.majority_lo:.3f}, {report.majority_hi:.3f}]",
             "site\tacc\t95% interval\tshuffled labels\tC"]
    for s in report.scores:
        lines.append(f"{s.site.label}\t{s.acc:.3f}\t[{s.lo:.3f}, {s.hi:.3f}]\t{s.shuffled:.3f} "
                     f"[{s.shuffled_lo:.3f}, {s.shuffled_hi:.3f}]\t{s.C:g}")
    appears = report.appears.label if report.appears else "none (no layer's lower bound beats the majority's upper)"
    lines.append(f"appears at: {appears}; mlp_out: {report.appears_mlp.label if report.appears_mlp else 'none'}")
    lines.append(f"sparsity at {report.best.label}: {report.sparse_units} units recover 90% of the best L1 "
                 f"probe's gain over the majority")
    lines.append("units\tacc\t95% interval")
    lines += [f"{p.units}\t{p.acc:.3f}\t[{p.lo:.3f}, {p.hi:.3f}]" for p in report.path]
    return "\n".join(lines)


def format_attribution(att: Attribution) -> str:
    """Precision@k per method with its interval, and the pool's size and share of true sentences."""
    share = att.truth.mean()
    lines = [f"attribution for {att.concept}: {len(att.targets)} held-out subjects, a pool of {len(att.pool)} "
             f"sentences ({share:.3f} of target-sentence pairs state the fact)", "method\tprecision@k\t95% interval"]
    for m in METHODS:
        p, lo, hi = att.precision(m)
        lines.append(f"{m}\t{p:.3f}\t[{lo:.3f}, {hi:.3f}]")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) to a CSV file."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
