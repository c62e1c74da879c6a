"""Plain-text and CSV renderings of unlearning results (no Streamlit): per-secret rows and summary lines."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from unlearn.evaluate import Scores
from unlearn.extract import Share


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
