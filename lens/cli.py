"""``python -m lens``: train, evaluate, import and decode Attention Lenses from the command line."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from cli import Parser, load_engine, out_folder, parse, positive, run_command, whole, whole_list
from engine.devices import add_device_args
from lens.baselines import constant_kl, mean_final_distribution
from lens.data import read_texts, split_holdout, text_digest
from lens.convergence import LR_GRID, Convergence
from lens.decode import decode_heads, load_lenses
from lens.evaluate import evaluate_lenses, evaluate_lenses_on
from lens.original import import_original
from lens.report import goal_lines, gpt2_small_sizes, kl_table, size_table
from lens.train import train_lenses
from promptsets.paths import DEMO_DIR
from ray_sweeps.args import add_ray_args, wants_ray

MAX_STEPS = 3000

DEFAULT_DATA = DEMO_DIR / "corpus.txt"


def cmd_train(args: argparse.Namespace) -> None:
    eng = load_engine(args.model, device=args.device, dtype=args.dtype)
    texts = read_texts(args.data)
    converge = None if args.fixed else Convergence(lrs=LR_GRID[args.kind], patience=args.patience)
    lenses = train_lenses(eng, texts, args.out, kind=args.kind, layers=args.layers, steps=args.steps,
                          seed=args.seed, checkpoint_every=args.checkpoint_every, rank=args.rank,
                          batch_size=args.batch_size, lr=args.lr, data_name=Path(args.data).name,
                          overwrite=args.overwrite, converge=converge)
    print(f"saved {lenses.kind} lenses for layers {list(lenses.layers)} to {args.out}")
    for layer, kl in zip(lenses.layers, lenses.header.final_kl):
        print(f"layer {layer}: held-out KL per head " + " ".join(f"{x:.4f}" for x in kl))


def cmd_eval(args: argparse.Namespace) -> None:
    eng = load_engine(args.model, device=args.device, dtype=args.dtype)
    sets = [load_lenses(args.lenses, eng)] + ([load_lenses(args.full, eng)] if args.full else [])
    data = sets[0].header.data
    texts = read_texts(args.data)
    if data is not None and text_digest(texts) != data.sha256:
        logging.warning("%s is not the text these lenses were trained on (%s); its held-out tail may "
                        "overlap their training text", args.data, data.name)
    train, held = split_holdout(texts, data.holdout if data else 0.05)
    held = held[: args.max_texts]
    if wants_ray(args):
        result = _eval_on_ray(args, eng, held)
    else:
        result = evaluate_lenses(eng, held, sets, batch_size=args.batch_size)
    constant = constant_kl(eng, held, mean_final_distribution(eng, train[: args.max_texts], args.batch_size),
                           args.batch_size)
    for line in kl_table(result, constant) + [""] + size_table(sets) + gpt2_small_sizes(sets[0].header.rank) + [""]:
        print(line)
    names = {s.kind: s.name for s in sets}
    for line in goal_lines(result, names.get("compact"), names.get("full"), constant):
        print(line)


def _eval_on_ray(args: argparse.Namespace, eng, held: list[str]):
    """The held-out evaluation split over Ray workers, one model each."""
    from ray_sweeps.args import engine_pool

    folders = [str(args.lenses)] + ([str(args.full)] if args.full else [])
    with engine_pool(args, eng) as pool:
        return evaluate_lenses_on(pool, held, folders, batch_size=args.batch_size)


def cmd_import(args: argparse.Namespace) -> None:
    eng = load_engine(args.model, device=args.device, dtype=args.dtype)
    header = import_original([Path(f) for f in args.files], args.out, eng.spec, overwrite=args.overwrite)
    print(f"imported full lenses for layers {list(header.layers)} into {args.out} ({header.convention})")


def cmd_decode(args: argparse.Namespace) -> None:
    eng = load_engine(args.model, device=args.device, dtype=args.dtype)
    result = decode_heads(eng, load_lenses(args.lenses, eng), args.prompt, k=1, target=args.target,
                          positions=[args.pos])
    label = result.labels[result.positions[0]]
    print(f"{result.lens}, position {label!r}" + (f", target {result.target!r}" if result.target else ""))
    for i, layer in enumerate(result.layers):
        cells = []
        for h in range(result.n_heads):
            cell = f"{result.top_strs[i, h, 0, 0]!r} {result.top_probs[i, h, 0, 0]:.2f}"
            if result.target_rank is not None:
                cell += f" (#{result.target_rank[i, h, 0]})"
            cells.append(cell.ljust(24))
        print(f"layer {layer}: " + "".join(cells))


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m lens", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train lenses for every head of some layers")
    t.add_argument("--model", required=True, help="model folder or Hugging Face name in the local cache")
    t.add_argument("--out", required=True, type=out_folder, help="folder for the lenses (and checkpoints)")
    t.add_argument("--kind", choices=("compact", "full"), default="compact")
    t.add_argument("--layers", type=whole_list(0, 100_000, "0,1,3"), help="comma-separated layers (default: all)")
    t.add_argument("--steps", type=whole(1, 1_000_000, MAX_STEPS), default=MAX_STEPS,
                   help="the most steps; training stops earlier once the validation KL stops falling")
    t.add_argument("--patience", type=whole(1, 1000, 3), default=3,
                   help="validation checks (every 50 steps) without a gain before stopping")
    t.add_argument("--fixed", action="store_true", help="run exactly --steps steps at --lr (no validation)")
    t.add_argument("--data", type=Path, default=DEFAULT_DATA, help="text file, one document per line")
    t.add_argument("--seed", type=whole(0, 2 ** 32 - 1, 0), default=0)
    t.add_argument("--rank", type=whole(1, 100_000, 16), default=None,
                   help="low-rank compact translators of this rank (below the model's width)")
    t.add_argument("--batch-size", type=whole(1, 4096, 32), default=32)
    t.add_argument("--lr", type=positive(10, 1e-3), default=None,
                   help="Adam learning rate (default: chosen on validation among 1e-3, 3e-3, 1e-2)")
    t.add_argument("--checkpoint-every", type=whole(0, 1_000_000, 100), default=100)
    t.add_argument("--overwrite", action="store_true", help="replace the lenses already in --out (whole)")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="held-out KL per layer: logit lens vs trained lenses")
    e.add_argument("--model", required=True)
    e.add_argument("--lenses", required=True, type=Path)
    e.add_argument("--full", type=Path, help="a second (full) lens folder to compare")
    e.add_argument("--data", type=Path, default=DEFAULT_DATA)
    e.add_argument("--max-texts", type=whole(1, 1_000_000, 1000), default=1000)
    e.add_argument("--batch-size", type=whole(1, 4096, 32), default=32)
    add_ray_args(e)
    e.set_defaults(func=cmd_eval)
    i = sub.add_parser("import", help="import the original tool's per-layer .ckpt files")
    i.add_argument("--model", required=True)
    i.add_argument("--out", required=True, type=out_folder)
    i.add_argument("--overwrite", action="store_true", help="replace the lenses already in --out (whole)")
    i.add_argument("files", nargs="+")
    i.set_defaults(func=cmd_import)
    d = sub.add_parser("decode", help="top token of every head at one position of a prompt")
    d.add_argument("--model", required=True)
    d.add_argument("--lenses", required=True, type=Path)
    d.add_argument("--prompt", required=True)
    d.add_argument("--target")
    d.add_argument("--pos", type=whole(-100_000, 100_000, -1), default=-1)
    d.set_defaults(func=cmd_decode)
    p.add_argument("--threads", type=whole(0, 1024, 1), default=None, help="torch CPU threads")
    for command in (t, e, i, d):
        add_device_args(command)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    return run_command(args.func, args, resumable=args.func is cmd_train)
