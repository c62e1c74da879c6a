"""Text and CSV forms of probe results: what ``python -m probe`` prints and the page downloads."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

from probe.attribute import METHODS, Attribution
from probe.report import ProbeReport
from probe.retrain import RetrainOutcome


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


def format_retrain(outcomes: list[RetrainOutcome]) -> str:
    """One line per retrain."""
    lines = ["condition\tlines dropped\tsteps\tseconds\tappears\tacc at site\t95% interval\ttarget acc\tunits"]
    for o in outcomes:
        lines.append(f"{o.condition}\t{o.dropped}\t{o.steps}\t{o.seconds:.0f}\t{o.appears}\t{o.site} {o.acc:.3f}\t"
                     f"[{o.lo:.3f}, {o.hi:.3f}]\t{o.target_acc:.3f}\t{o.sparse_units}")
    return "\n".join(lines)


def retrain_row(o: RetrainOutcome) -> dict:
    """A retrain as a CSV row."""
    return asdict(o)


def write_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) to a CSV file."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
