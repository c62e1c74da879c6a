"""Unlearning results shown, from result dataclasses only (no model access, no Streamlit): Plotly figures, and the
plain-text and CSV renderings (per-secret rows and summary lines).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import plotly.graph_objects as go

from unlearn.scores import CONDITIONS, RobustCurves, Scores, Share

CONDITION_LABELS = {"topic": "noise on topic clusters", "random": "noise on random clusters",
                    "topic+memory": "topic noise + the prefix as a memory"}
COLOURS = {"original": "#9aa0a6", "unlearned": "#d62728"}
DASHES = {"topic": "solid", "random": "dot", "topic+memory": "dash"}


def share_bars(before: Scores, after: Scores) -> list[tuple[str, Share, Share]]:
    """(label, before, after) of every share the bars show: memorized (all, by copies), backdoor, facts."""
    bars = [("memorized (all)", before.memorized, after.memorized)]
    a = after.by_copies()
    bars += [(f"memorized ({c} copies)", s, a[c]) for c, s in before.by_copies().items()]
    bars += [("backdoor", before.backdoor, after.backdoor), ("1-hop facts", before.facts, after.facts),
             ("two-hop facts", before.two_hop, after.two_hop)]
    return [(label, b, x) for label, b, x in bars if b.n]


def _bar(bars: list[tuple[str, Share, Share]], which: int, name: str, colour: str) -> go.Bar:
    shares = [b[which] for b in bars]
    values = [s.value for s in shares]
    return go.Bar(x=[b[0] for b in bars], y=values, name=name, marker_color=colour,
                  error_y=dict(type="data", symmetric=False, array=[s.interval[1] - v for s, v in zip(shares, values)],
                               arrayminus=[v - s.interval[0] for s, v in zip(shares, values)]))


def plot_scores(before: Scores, after: Scores, title: str) -> go.Figure:
    """Grouped bars, before (grey) and after (red) unlearning, with 95% Wilson intervals."""
    bars = share_bars(before, after)
    fig = go.Figure([_bar(bars, 1, "original", COLOURS["original"]), _bar(bars, 2, "unlearned", COLOURS["unlearned"])])
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="share", range=[0, 1.05]),
                      legend=dict(orientation="h"), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def plot_robust(curves: RobustCurves) -> go.Figure:
    """Share of secrets extractable against noise intensity: original (grey) and unlearned (red), one dash per condition."""
    fig = go.Figure()
    for model, colour in COLOURS.items():
        for condition in CONDITIONS:
            fig.add_trace(go.Scatter(x=list(curves.intensities), y=list(curves.share[model][condition]),
                                     mode="lines+markers", name=f"{model}: {CONDITION_LABELS[condition]}",
                                     line=dict(color=colour, dash=DASHES[condition])))
    fig.update_layout(title="Does it come back under impairment?", xaxis=dict(title="noise intensity"),
                      yaxis=dict(title="share of secrets extractable", range=[-0.02, 1.02]),
                      legend=dict(orientation="h"), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def extraction_rows(before: Scores, after: Scores | None = None) -> list[dict]:
    """One row per secret: prefix, truth, greedy continuation and tokens matched, before (and after)."""
    rows = []
    for i, b in enumerate(before.extractions):
        row = dict(subject=b.subject, copies=b.copies, prefix=b.prefix, truth=b.truth, tokens=b.n_tokens,
                   generated_before=b.generated, matched_before=b.matched, memorized_before=b.memorized)
        if after is not None:
            a = after.extractions[i]
            row |= dict(generated_after=a.generated, matched_after=a.matched, memorized_after=a.memorized)
        rows.append(row)
    return rows


def summary_rows(before: Scores, after: Scores | None = None) -> list[dict]:
    """One row per score: its value before (and after), shares with their 95% Wilson intervals."""
    def share(s: Share) -> dict:
        lo, hi = s.interval
        return dict(value=s.value, low=lo, high=hi, k=s.k, n=s.n)

    names: list[tuple[str, Share, Share | None]] = [("memorized (all)", before.memorized,
                                                     after.memorized if after else None)]
    b_copies, a_copies = before.by_copies(), after.by_copies() if after else {}
    names += [(f"memorized ({c} copies)", b_copies[c], a_copies.get(c)) for c in b_copies]
    names += [(name, getattr(before, attr), getattr(after, attr) if after else None)
              for name, attr in (("backdoor accuracy", "backdoor"), ("1-hop fact accuracy", "facts"),
                                 ("two-hop accuracy", "two_hop"))]
    rows = []
    for name, b, a in names:
        row = {"score": name, **{f"{k}_before": v for k, v in share(b).items()}}
        if after is not None and a is not None:
            row |= {f"{k}_after": v for k, v in share(a).items()}
        rows.append(row)
    row = {"score": "held-out perplexity", "value_before": before.perplexity}
    if after is not None:
        row["value_after"] = after.perplexity
    rows.append(row)
    return rows


def format_summary(before: Scores, after: Scores | None = None) -> str:
    """The summary as aligned lines: score, before [interval], after [interval]."""
    lines = []
    for row in summary_rows(before, after):
        def cell(when: str) -> str:
            v = row.get(f"value_{when}")
            if v is None:
                return ""
            if "k_" + when not in row:
                return f"{v:.3f}"
            return f"{v:.2f} [{row['low_' + when]:.2f}, {row['high_' + when]:.2f}] ({row['k_' + when]}/{row['n_' + when]})"
        lines.append(f"{row['score']:24} {cell('before'):28} {('-> ' + cell('after')) if after else ''}")
    return "\n".join(lines)


def write_csv(path: str | Path, rows: Sequence[dict]) -> None:
    """``rows`` (dicts sharing the first row's keys, extra keys appended) as a CSV file."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(Path(path), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
