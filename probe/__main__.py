"""Command line: ``python -m probe fit|attribute|retrain``: concept probes per layer, which training sentences
made the concept, and the check by retraining without them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if __name__ == "__main__":
    # ``python -m probe``: import this file again as ``probe.__main__`` with Ctrl-C held while torch loads (see
    # cli.entry), then run its main(); ``lenslab probe`` imports it the same way.
    from cli.entry import run_main

    sys.exit(run_main("probe.__main__"))

import torch
from tqdm import tqdm

from cli import Parser, finite, load_engine, out_folder, parse, run_command, whole
from engine.loading import add_device_args
from promptsets.paths import DEMO_DIR

RESUME = "run the same command again to resume"


class Bars:
    """tqdm bars keyed by what they count; ``progress(what, done, total)``."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        bar = self.bars.get(what)
        if bar is None:
            bar = self.bars[what] = tqdm(total=total, desc=what, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=str(DEMO_DIR), help="model folder (HF format) or a name in the local HF cache")
    p.add_argument("--concepts", default=None,
                   help="JSONL of labelled subjects: concept, label, prompt, subject, split (train/heldout); "
                        "default MODEL/prompts/concepts.jsonl")
    p.add_argument("--concept", required=True, help="which concept of the file, e.g. role")
    p.add_argument("--seed", type=whole(0, 2**31 - 1, 0), default=0)
    p.add_argument("--threads", type=whole(1, 1024, 1), default=1, help="torch CPU threads")
    add_device_args(p)


def _attribution_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default=None, help="training corpus, one document a line (default MODEL/corpus.txt)")
    p.add_argument("--facts", default=None, help="what each sentence states (default MODEL/corpus_facts.tsv)")
    p.add_argument("--site", choices=("resid", "mlp_out"), default=None, help="probe site (default: the best resid)")
    p.add_argument("--layer", type=int, default=None, help="probe layer (with --site; resid -1: the embeddings)")
    p.add_argument("--targets", type=whole(1, 1000, 8), default=8, help="held-out subjects to attribute")
    p.add_argument("--others", type=whole(0, 100_000, 200), default=200,
                   help="sentences about other subjects added to the pool")
    p.add_argument("--k", type=whole(1, 1000, 10), default=10, help="top-k sentences judged per subject")
    p.add_argument("--proj-dim", type=whole(8, 16384, 2048), default=2048,
                   help="TRAK projection dimension (the inner products' noise falls as 1/sqrt of it)")
    p.add_argument("--ridge", type=finite(0, 1e6, 10), default=None,
                   help="TRAK ridge, relative to the kernel's mean diagonal (default: chosen among 0.01-1000 by "
                        "precision@k on 4 train subjects, never on held-out ones)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m probe``."""
    p = Parser(prog="python -m probe", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="probe every layer; accuracy, baselines, sparsity")
    _common(fit)
    fit.add_argument("--csv", default=None, help="also write one row per site to this CSV")
    fit.set_defaults(func=cmd_fit)
    att = sub.add_parser("attribute", help="TRAK, gradient similarity and random, scored against corpus_facts.tsv")
    _common(att)
    _attribution_flags(att)
    att.add_argument("--out", type=out_folder, required=True, help="folder for attribution.csv (resumes there)")
    att.set_defaults(func=cmd_attribute)
    ret = sub.add_parser("retrain", help="retrain without the top attributed lines, and without random ones")
    _common(ret)
    _attribution_flags(ret)
    ret.add_argument("--steps", type=whole(1, 1_000_000, 2200), default=None, help="training steps (default: the recipe's)")
    ret.add_argument("--conditions", default="control,attributed,random", help="which retrains, comma-separated")
    ret.add_argument("--out", type=out_folder, required=True, help="folder for retrain.csv (resumes there)")
    ret.set_defaults(func=cmd_retrain)
    return p


def _paths(args: argparse.Namespace) -> None:
    """Fill default files from the model folder and refuse a missing one, an unknown concept or one label."""
    from probe.concepts import ProbeError, load_concept

    model = Path(args.model)
    args.concepts = Path(args.concepts) if args.concepts else model / "prompts" / "concepts.jsonl"
    args.data = load_concept(args.concepts, args.concept)
    for name, default in (("corpus", "corpus.txt"), ("facts", "corpus_facts.tsv")):
        if hasattr(args, name):
            path = Path(getattr(args, name) or model / default)
            if not path.is_file():
                raise ProbeError(f"--{name}: no file at {path}")
            setattr(args, name, path)
    if getattr(args, "layer", None) is not None and getattr(args, "site", None) is None:
        raise ProbeError("--layer needs --site (resid or mlp_out)")
    if getattr(args, "conditions", None) is not None:
        from probe.retrain import CONDITIONS
        args.conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
        bad = [c for c in args.conditions if c not in CONDITIONS]
        if bad or not args.conditions:
            raise ProbeError(f"--conditions: unknown {bad or '(none)'}; choose from {', '.join(CONDITIONS)}")


def _engine_and_report(args: argparse.Namespace):
    from probe.concepts import check_site, last_token_features
    from probe.fit import probe_features

    torch.set_num_threads(args.threads)
    engine = load_engine(args.model, device=args.device, dtype=args.dtype)
    if getattr(args, "site", None) is not None:
        layer = args.layer if args.layer is not None else engine.spec.n_layers - 1
        args.site_obj = check_site(args.site, layer, engine.spec.n_layers)
    bars = Bars()
    feats = last_token_features(engine, args.data.prompts, lambda d, t: bars("reading activations", d, t))
    report = probe_features(args.data, feats, args.seed, lambda d, t: bars("fitting probes", d, t))
    return engine, report


def cmd_fit(args: argparse.Namespace) -> None:
    """Probe every site and print the table, the baselines, where the concept appears and its sparsity."""
    from probe.plots import format_report, site_rows, write_csv

    _paths(args)
    _, report = _engine_and_report(args)
    print(format_report(report))
    if args.csv:
        write_csv(Path(args.csv), site_rows(report))
        print(f"\nrows: {args.csv}")


def cmd_attribute(args: argparse.Namespace) -> None:
    """Attribute the probe's margin on held-out subjects to training sentences; resumes from OUT."""
    from probe.retrain import attribution_for

    _paths(args)
    rows, summary = attribution_for(args, *_engine_and_report(args), Bars())
    print(summary)
    print(f"\nrows: {Path(args.out) / 'attribution.csv'}")


def cmd_retrain(args: argparse.Namespace) -> None:
    """Retrain per condition (resuming the ones done), probe each model, print and write the figures."""
    from probe.retrain import retrain_all

    _paths(args)
    print(retrain_all(args, *_engine_and_report(args), Bars()))
    print(f"\nrows: {Path(args.out) / 'retrain.csv'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    return run_command(args.func, args, resumable=args.command != "fit")
