"""Command line: ``python -m unlearn`` finds where planted secrets live, removes them, and measures what survives.

    localize  rank MLP units (or learn a weight mask) for the secrets, print and save them
    apply     unlearn with one method and budget: extraction and surviving facts before and after
    sweep     several methods and budgets into a resumable CSV, with a per-row table
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

if __name__ == "__main__":
    # ``python -m unlearn``: import this file again as ``unlearn.__main__`` with Ctrl-C held while torch loads (see
    # cli.entry), then run its main(); ``lenslab unlearn`` imports it the same way.
    from cli.entry import run_main

    sys.exit(run_main("unlearn.__main__"))

import torch
from tqdm import tqdm

from cli import Parser, load_engine, out_folder, parse, run_command, whole
from cli.args import THREADS_HELP, read_range
from engine.loading import add_device_args
from unlearn.data import SPLITS, UnlearnError, load_world, pick_secrets, read_secrets
from unlearn.methods import LOCALIZERS, METHODS, UnlearnSpec, check_spec, localize, unlearn

MAX_BUDGET = 1_000_000


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model folder (HF format) or a name in the local HF cache")
    p.add_argument("--secrets", default=None,
                   help="SecretPrompt JSONL (subject, prefix, continuation, copies); default MODEL/prompts/secrets.jsonl")
    p.add_argument("--clean", default=None, help="clean text, one document a line (alternate lines: kept / held out); "
                   "default: the demo world's documents")
    p.add_argument("--subject", action="append", default=[], help="a secret's subject (repeat; default: every secret)")
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="validation / report: alternate secrets of each copy count (all: every secret)")
    p.add_argument("--limit", type=whole(1, 100_000, 200), default=None,
                   help="score at most this many prompts of each surviving set (spread over it); default all")
    p.add_argument("--threads", type=whole(0, 1024, 1), default=1, help=THREADS_HELP)
    add_device_args(p)


def _method(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    p.add_argument("--method", choices=choices, default="attribution")
    p.add_argument("--budget", type=whole(1, MAX_BUDGET, 16), default=16,
                   help="units to remove (a mask: as many single weights as this many whole units)")
    p.add_argument("--steps", type=whole(0, 10_000, 40), default=0, help="training steps of mask / finetune (0: default)")
    p.add_argument("--layer", type=whole(0, 100_000, 1), default=None, help="finetune only this layer (default all)")
    p.add_argument("--seed", type=whole(0, 2**31 - 1, 0), default=0, help="seed of the random controls and the mask")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m unlearn``."""
    root = Parser(prog="python -m unlearn", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = root.add_subparsers(dest="command", required=True)
    lo = sub.add_parser("localize", help="rank the units (or learn the mask) that carry the secrets")
    _common(lo)
    _method(lo, LOCALIZERS)
    lo.add_argument("--csv", default=None, help="write the located units (or mask weights per layer) to this CSV")
    ap = sub.add_parser("apply", help="unlearn with one method; extraction and surviving sets before/after")
    _common(ap)
    _method(ap, METHODS)
    ap.add_argument("--csv", default=None, help="write one row per secret (before/after) to this CSV")
    ap.add_argument("--clusters", default=None, help="folder of topic clusters: also print the robustness curves")
    ap.add_argument("--intensities", default="0,0.5,1,2", help="noise intensities of the robustness curves (noise kills extraction by 2)")
    sw = sub.add_parser("sweep", help="several methods and budgets -> OUT/unlearn.csv (resumable)")
    _common(sw)
    sw.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    sw.add_argument("--budgets", default="4,16,64", help="comma list or start:stop:step of budgets (units)")
    sw.add_argument("--seed", type=whole(0, 2**31 - 1, 0), default=0, help="seed of the random controls and the mask")
    sw.add_argument("--out", type=out_folder, required=True, help="output folder (rerun to resume)")
    return root


def _prepare(args: argparse.Namespace):
    """Secrets checked before the model loads (a missing file or unknown subject costs nothing), then the engine."""
    torch.set_num_threads(args.threads or torch.get_num_threads())
    secrets_file = args.secrets if args.secrets is not None else Path(args.model) / "prompts" / "secrets.jsonl"
    secrets = pick_secrets(read_secrets(secrets_file), args.subject, args.split)
    if args.clean is not None and not Path(args.clean).is_file():
        raise UnlearnError(f"--clean {args.clean} does not exist; give a text file, one document a line")
    _check_budget_early(args)
    engine = load_engine(args.model, device=args.device, dtype=args.dtype)
    return engine, secrets, secrets_file


def _check_budget_early(args: argparse.Namespace) -> None:
    """Refuse a budget above the model's units from its config.json, before the weights load (when it has one)."""
    config = Path(args.model) / "config.json"
    if not config.is_file():
        return
    try:
        c = json.loads(config.read_text(encoding="utf-8"))
        layers = int(c.get("n_layer") or c["num_hidden_layers"])
        width = int(c.get("n_inner") or c.get("intermediate_size") or 4 * int(c.get("n_embd") or c["hidden_size"]))
    except (ValueError, KeyError, TypeError):
        return
    budgets = [getattr(args, "budget", None)] + list(read_range(args.budgets, int) if hasattr(args, "budgets") else ())
    for budget in (b for b in budgets if b is not None):
        if not 1 <= budget <= layers * width:
            raise UnlearnError(f"budget {budget} is out of range; give a whole number of units from 1 to "
                               f"{layers * width} ({layers} layers x {width} units)")


def _spec(args: argparse.Namespace) -> UnlearnSpec:
    return UnlearnSpec(args.method, args.budget, args.steps, args.layer, args.seed)


def cmd_localize(args: argparse.Namespace) -> None:
    """Localize and print the top units (or the mask's weights per layer)."""
    engine, secrets, secrets_file = _prepare(args)
    spec = _spec(args)
    check_spec(engine, spec)
    world = load_world(args.model, secrets_file, args.clean)
    located, trained = localize(engine, world, secrets, spec)
    print(f"{spec.method}, budget {spec.budget}: {located.n_weights} W_out weights of "
          f"{len(located.masks)} layer(s), for {len(secrets)} secret(s)")
    if trained is not None:
        print(f"secret loss {trained.secret_before:.3f} -> {trained.secret_after:.3f}, "
              f"clean loss {trained.clean_before:.3f} -> {trained.clean_after:.3f} (nats per token)")
    rows = ([dict(layer=layer, unit=unit, score=score) for (layer, unit), score in zip(located.units, located.scores)]
            if located.units else
            [dict(layer=layer, weights=int(m.sum()), units_touched=int(m.any(axis=1).sum()))
             for layer, m in located.masks.items()])
    for row in rows[:20]:
        print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    if len(rows) > 20:
        print(f"  … {len(rows) - 20} more")
    if args.csv:
        from unlearn.plots import write_csv
        write_csv(args.csv, rows)
        print(f"rows: {args.csv}")


def cmd_apply(args: argparse.Namespace) -> None:
    """Unlearn, then print extraction per secret and the summary before and after."""
    from unlearn.scores import evaluate
    from unlearn.plots import extraction_rows, format_summary, write_csv

    engine, secrets, secrets_file = _prepare(args)
    spec = _spec(args)
    check_spec(engine, spec)
    intensities = read_range(args.intensities) if args.clusters else ()
    world = load_world(args.model, secrets_file, args.clean)
    with tqdm(total=3, desc="unlearn", unit="step") as bar:
        before = evaluate(engine, world, secrets, (), args.limit)
        bar.update()
        result = unlearn(engine, world, secrets, spec)
        bar.update()
        after = evaluate(engine, world, secrets, result.deltas, args.limit)
        bar.update()
    rows = extraction_rows(before, after)
    for r in rows:
        print(f"{r['subject']} ({r['copies']} copies): {r['truth']!r}  before {r['generated_before']!r} "
              f"({r['matched_before']}/{r['tokens']})  after {r['generated_after']!r} ({r['matched_after']}/{r['tokens']})")
    print(f"{spec.method}, budget {spec.budget}; clean text: {world.clean.source}")
    print(format_summary(before, after))
    if args.csv:
        write_csv(args.csv, rows)
        print(f"rows: {args.csv}")
    if args.clusters:
        _robust(args, engine, secrets, result.deltas, intensities)


def _robust(args, engine, secrets, deltas, intensities) -> None:
    from unlearn.scores import robustness, union_cluster

    topics = union_cluster(args.clusters, engine)
    with tqdm(desc="robustness", unit="run") as bar:
        curves = robustness(engine, secrets, deltas, topics, intensities,
                            progress=lambda done, total: (setattr(bar, "total", total), bar.update(done - bar.n)))
    print("extractable share against noise intensity " + " ".join(f"{x:g}" for x in curves.intensities))
    for model, by_condition in curves.share.items():
        for condition, values in by_condition.items():
            print(f"  {model:9} {condition:13} " + " ".join(f"{v:.2f}" for v in values))


def cmd_sweep(args: argparse.Namespace) -> None:
    """Run or resume a sweep, then print one line per row."""
    from unlearn.sweep import CSV_NAME, format_rows, run_sweep_job

    methods = [m for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise UnlearnError(f"unknown method {bad[0] if bad else '(none)'!r}; use a comma list of {', '.join(METHODS)}")
    budgets = read_range(args.budgets, int)
    engine, secrets, secrets_file = _prepare(args)
    specs = [UnlearnSpec(m, b, seed=args.seed) for m in methods for b in budgets]
    for spec in specs:
        check_spec(engine, spec)
    world = load_world(args.model, secrets_file, args.clean)
    with tqdm(total=len(specs), desc="unlearn sweep", unit="run") as bar:
        rows = run_sweep_job(engine, world, secrets, specs, Path(args.out), args.limit,
                             lambda done, total: bar.update(done - bar.n))
    print(format_rows(rows))
    print(f"rows: {Path(args.out) / CSV_NAME}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    command = {"localize": cmd_localize, "apply": cmd_apply, "sweep": cmd_sweep}[args.command]
    return run_command(command, args, resumable=args.command == "sweep")
