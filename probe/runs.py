"""The long commands' work in an output folder: an identity file, rows written as they finish, and resume.

``attribution.csv`` / ``attribution_summary.csv`` are written once attribution ends (a rerun with the same
identity reads them back instead of recomputing); ``retrain.csv`` gains one row per finished retrain, and a
rerun retrains only the conditions it lacks.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import asdict
from pathlib import Path
import numpy as np
from tqdm import tqdm

from probe.attribute import METHODS, AttributionSpec, attribute_probe, attribution_rows, pick_targets
from probe.errors import ProbeError
from probe.retrain import RetrainOutcome, random_lines, recipe, run_condition
from probe.tables import format_retrain
from sweeps.identity import check_identity, digest, engine_identity, write_identity
from sweeps.rows import RowAppender, read_rows, rewrite_rows

IDENTITY = "probe_identity.json"
FRESH = "delete that folder"


def spec_of(args: argparse.Namespace) -> AttributionSpec:
    """The attribution settings of the flags."""
    return AttributionSpec(args.targets, args.others, args.k, args.proj_dim, args.ridge, args.seed)


def _identity(args: argparse.Namespace, engine, site_label: str) -> dict:
    files = {"concepts": args.concepts, "corpus": args.corpus, "facts": args.facts}
    return {"engine": engine_identity(engine), "concept": args.concept, "site": site_label,
            "spec": asdict(spec_of(args)),
            "files": {k: digest(Path(v).read_text(encoding="utf-8")) for k, v in files.items()}}


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def summary_rows(att) -> list[dict]:
    """Precision@k per method with its interval, the pool's size and its share of true pairs."""
    return [{"method": m, "precision": round(p, 4), "lo": round(lo, 4), "hi": round(hi, 4), "k": att.k,
             "targets": len(att.targets), "pool": len(att.pool), "base_rate": round(float(att.truth.mean()), 4),
             "ridge": att.ridge}
            for m in METHODS for p, lo, hi in [att.precision(m)]]


def format_summary(rows: list[dict], concept: str) -> str:
    """The summary rows as text."""
    first = rows[0]
    lines = [f"attribution for {concept}: {first['targets']} held-out subjects, a pool of {first['pool']} sentences "
             f"(base rate {float(first['base_rate']):.3f}, TRAK ridge {float(first['ridge']):g}), precision@{first['k']}", "method\tprecision\t95% interval"]
    lines += [f"{r['method']}\t{float(r['precision']):.3f}\t[{float(r['lo']):.3f}, {float(r['hi']):.3f}]" for r in rows]
    return "\n".join(lines)


def attribution_for(args: argparse.Namespace, engine, report, bars) -> tuple[list[dict], str]:
    """The attribution rows and summary text for the flags, computed or read back from ``args.out``."""
    site = getattr(args, "site_obj", None) or report.best
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    identity = _identity(args, engine, site.label)
    rows_path, summary_path = out / "attribution.csv", out / "attribution_summary.csv"
    check_identity(out, identity, IDENTITY, ProbeError, rows_path, FRESH)
    write_identity(out, identity, IDENTITY)
    if rows_path.is_file() and summary_path.is_file():
        return _read_csv(rows_path), format_summary(_read_csv(summary_path), args.concept)
    att = attribute_probe(engine, report.data, report.probes[site], args.corpus, args.facts, spec_of(args), bars)
    rows, summary = attribution_rows(att), summary_rows(att)
    rewrite_rows(summary_path.with_suffix(".part"), list(summary[0]), summary)
    rewrite_rows(rows_path, list(rows[0]), rows)
    summary_path.with_suffix(".part").replace(summary_path)
    return rows, format_summary(summary, args.concept)


def attributed_lines(rows: list[dict], method: str = "trak") -> set[int]:
    """Corpus lines holding every target's top-k sentences by ``method`` (every copy of each)."""
    return {int(line) for r in rows if r["method"] == method for line in r["lines"].split()}


def retrain_all(args: argparse.Namespace, engine, shipped, bars) -> str:
    """Retrain each condition not yet in ``args.out/retrain.csv`` and return the table of all of them."""
    rows, summary = attribution_for(args, engine, shipped, bars)
    drops = {"control": set(), "attributed": attributed_lines(rows)}
    n_lines = len(Path(args.corpus).read_text(encoding="utf-8").split("\n")) - 1
    drops["random"] = random_lines(n_lines, len(drops["attributed"]), args.seed, drops["attributed"])
    config = recipe(Path(args.model), args.steps)
    columns = list(RetrainOutcome.__dataclass_fields__)
    path = Path(args.out) / "retrain.csv"
    stored = read_rows(path, columns)
    rewrite_rows(path, columns, stored.rows)
    done = {r["condition"] for r in stored.rows if int(r["steps"]) == config.steps}
    targets = pick_targets(shipped.data, args.targets, args.seed)
    with RowAppender(path, columns) as out:
        for condition in [c for c in args.conditions if c not in done]:
            bar = tqdm(total=config.steps, desc=f"retraining ({condition})", leave=False)
            outcome = run_condition(condition, Path(args.model), args.corpus, args.concepts, args.concept,
                                    drops[condition], config, shipped, targets, args.seed,
                                    lambda step, total, loss: bar.update(1))
            bar.close()
            out.write(asdict(outcome))
    got = [RetrainOutcome(**_typed(r)) for r in read_rows(path, columns).rows if int(r["steps"]) == config.steps]
    base = _shipped_outcome(shipped, targets, engine)
    return summary + "\n\n" + format_retrain([base] + got)


def _typed(row: dict) -> dict:
    out = dict(row)
    for k in ("dropped", "steps"):
        out[k] = int(row[k])
    for k in ("seconds", "acc", "lo", "hi", "target_acc", "majority"):
        out[k] = float(row[k])
    out["sparse_units"] = int(row["sparse_units"]) if row["sparse_units"] not in ("", "None") else None
    return out


def _shipped_outcome(report, targets: list[int], engine) -> RetrainOutcome:
    """The shipped model's figures in a retrain row's shape (nothing dropped, not retrained)."""
    site = report.best
    score, probe = report.score(site), report.probes[site]
    x = np.stack([(engine.trace(report.data.prompts[i]).resid[site.layer + 1, -1] if site.kind == "resid"
                   else engine.trace(report.data.prompts[i]).mlp[site.layer, -1]).numpy() for i in targets])
    want = [probe.classes.index(report.data.labels[i]) for i in targets]
    return RetrainOutcome("shipped", 0, 0, 0.0, report.appears.label if report.appears else "none", site.label,
                          score.acc, score.lo, score.hi, float((probe.predict(x) == want).mean()),
                          report.sparse_units, report.majority_acc)



