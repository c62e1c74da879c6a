"""Command line: ``python -m patch`` patches every site of a prompt pair and prints the Patch page's grids."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Sequence

import torch

from cli import Parser, load_engine, parse, run_command, whole
from engine.loading import add_device_args
from patch.compute import DIRECTIONS, METRICS, PatchSpec, patch_sites
from patch.plots import GRIDS, format_grid, format_summary, patch_rows


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m patch``."""
    p = Parser(prog="python -m patch", description=__doc__)
    p.add_argument("--model", required=True, help="model folder (HF format) or a name in the local HF cache")
    p.add_argument("--clean", required=True, help="the clean prompt, e.g. 'Higrus plays'")
    p.add_argument("--corrupted", required=True, help="the corrupted prompt, the same number of tokens")
    p.add_argument("--answer", required=True, help="the clean prompt's answer, e.g. ' football'")
    p.add_argument("--corrupted-answer", default=None, help="the corrupted prompt's answer (for logit_diff)")
    p.add_argument("--metric", choices=METRICS, default="logit_diff",
                   help="logit_diff: logit(answer) - logit(corrupted answer); prob: p(answer)")
    p.add_argument("--direction", choices=DIRECTIONS, default="denoise",
                   help="denoise: clean activations into the corrupted run; noise: corrupted into clean")
    p.add_argument("--csv", default=None, help="also write one row per site to this CSV file")
    p.add_argument("--threads", type=whole(0, 1024, 1), default=None, help="torch CPU threads")
    add_device_args(p)
    return p


def cmd_patch(args: argparse.Namespace) -> None:
    """Patch every site and print the summary and the three grids."""
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = load_engine(args.model, device=args.device, dtype=args.dtype)
    spec = PatchSpec(args.clean, args.corrupted, args.answer, args.corrupted_answer, args.metric, args.direction)
    result = patch_sites(engine, spec)
    print(format_summary(result))
    for grid in GRIDS:
        print()
        print(format_grid(result, grid))
    if args.csv:
        rows = patch_rows(result)
        with open(Path(args.csv), "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"\nrows: {args.csv}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    return run_command(cmd_patch, args)
