"""Command line: ``python -m compare impaired|models`` (the same core the app's Compare page calls)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from cli import Parser, finite, load_engine, parse, run_command, whole
from compare.layers import COMPARE_SITES, cka_between_models, cka_clean_vs_impaired
from engine.loading import add_device_args
from engine.interventions import IMPAIR_MODES


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m compare``."""
    root = Parser(prog="python -m compare", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="model folder or Hugging Face name in the local cache")
    common.add_argument("--prompt", action="append", default=[], help="a prompt (repeat for more)")
    common.add_argument("--prompts", type=Path, help="folder with keywords.jsonl: pool its held-out prompts")
    common.add_argument("--pool", type=whole(1, 10_000, 24), default=24, help="how many prompts of --prompts to pool")
    common.add_argument("--site", choices=COMPARE_SITES, default="resid_post")
    add_device_args(common)
    sub = root.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("impaired", parents=[common], help="CKA per layer, clean vs a cluster impaired")
    imp.add_argument("--cluster", required=True, help="cluster JSON file")
    imp.add_argument("--mode", choices=IMPAIR_MODES, default="noise")
    imp.add_argument("--intensity", type=finite(-1e6, 1e6, 1), default=1.0)
    imp.add_argument("--seed", type=whole(0, 2 ** 32 - 1, 0), default=0)
    two = sub.add_parser("models", parents=[common], help="CKA of every layer pair of two models")
    two.add_argument("--other", required=True, help="the second model (same tokenizer)")
    return root


def _prompts(args) -> list[str]:
    texts = list(args.prompt)
    if args.prompts:
        from promptsets.schema import load_keyword_prompts

        texts += [p.prompt for p in load_keyword_prompts(args.prompts) if p.split == "heldout"][: args.pool]
    return texts


def cmd_impaired(args: argparse.Namespace) -> None:
    """CKA per layer, clean against a cluster impaired."""
    from cluster.impair import impairs
    from cluster.spec import load_cluster

    engine = load_engine(args.model, device=args.device, dtype=args.dtype)
    ivs = impairs(load_cluster(args.cluster, engine), args.mode, args.intensity, seed=args.seed)
    result = cka_clean_vs_impaired(engine, _prompts(args), ivs, args.site)
    print(f"linear CKA at {result.site} over {result.n_positions} positions, clean vs impaired")
    for layer, value in enumerate(result.cka):
        print(f"layer {layer}: {value:.4f}")


def cmd_models(args: argparse.Namespace) -> None:
    """CKA of every layer pair of two models."""
    a = load_engine(args.model, device=args.device, dtype=args.dtype)
    b = load_engine(args.other, "--other", device=args.device, dtype=args.dtype)
    result = cka_between_models(a, b, _prompts(args), args.site)
    print(f"linear CKA at {result.site} over {result.n_positions} positions; rows: {result.name_a}, "
          f"columns: {result.name_b}")
    for i, row in enumerate(result.cka):
        print(f"L{i}: " + " ".join(f"{v:.3f}" for v in row))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the CKA table; user errors are one line on stderr and exit status 2, Ctrl-C 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    return run_command(cmd_impaired if args.command == "impaired" else cmd_models, args)
