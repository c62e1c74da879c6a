"""Command line: `python -m world build --out DIR` and `python -m world check [--model DIR]`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from cli import Parser, out_folder, parse, run_command, whole
from engine.errors import ModelLoadError
from promptsets.paths import DEMO_DIR
from promptsets.schema import load_keyword_prompts
from world.build import build_demo
from world.check import check_model, failures, format_groups, format_report, keyword_groups
from world.config import TINY_ASSETS, TINY_MODEL, TINY_WORLD, AssetsConfig, ModelConfig, WorldConfig


def _build(args: argparse.Namespace) -> int:
    if args.tiny:
        world, model, assets = TINY_WORLD, TINY_MODEL, TINY_ASSETS
    else:
        world, model, assets = WorldConfig(seed=args.seed), ModelConfig(seed=args.seed), AssetsConfig()
    if args.steps:
        model = ModelConfig(**{**model.__dict__, "steps": args.steps})
    bars: list[tqdm] = []

    def progress(step: int, total: int, loss: float) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="training demo model", unit="step"))
        bar = bars[0]
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")
        if step + 1 == total:
            bar.close()

    build_demo(Path(args.out), world, model, assets, progress, retrain=args.retrain)
    print(f"built the demo into {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    model_dir = Path(args.model)
    prompts = Path(args.prompts) if args.prompts else model_dir / "prompts"
    try:
        tables = check_model(model_dir, prompts)
    except ModelLoadError as err:
        raise ModelLoadError(f"--model: {err}") from None
    groups = keyword_groups(load_keyword_prompts(prompts))
    print(format_report(tables))
    print(format_groups(groups))
    problems = failures(tables, groups)
    print("\n".join(f"FAIL: {p}" for p in problems) if problems else "check passed")
    return 1 if problems else 0


def _run(args: argparse.Namespace) -> int:
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = Parser(prog="python -m world", description="Build and check the demo world's model.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="rebuild tokenizer, model, corpus and prompt sets")
    b.add_argument("--out", default=DEMO_DIR, type=out_folder)
    b.add_argument("--seed", type=whole(0, 2 ** 32 - 1, 0), default=0)
    b.add_argument("--steps", type=whole(0, 1_000_000, 1500), default=0, help="training steps (default: the config's)")
    b.add_argument("--tiny", action="store_true", help="a tiny world and model, for tests")
    b.add_argument("--retrain", action="store_true", help="train the model even if OUT holds one from the same configs")
    b.set_defaults(func=_build)
    c = sub.add_parser("check", help="print accuracy per topic, keyword groups and planted secrets; exit 1 on a broken promise")
    c.add_argument("--model", default=str(DEMO_DIR))
    c.add_argument("--prompts", default="", help="prompt folder (default: MODEL/prompts)")
    c.set_defaults(func=_check)
    args = parse(parser, argv)
    if args is None:
        return 2
    return run_command(_run, args)
