"""``python -m lens``: train, evaluate, import and decode Attention Lenses from the command line.

``eval`` prints plain-text tables: the held-out KL of every lens per layer, lens sizes, and
each comparison that matters checked at every layer.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

import torch

from cli import Parser, load_engine, out_folder, parse, positive, run_command, whole, whole_list
from engine.loading import add_device_args
from lens.baselines import SHUFFLED_SUFFIX, TABLE_NAME, fit_token_table, heads_beating, shuffled_kl, table_kl
from lens.data import read_texts, split_holdout, text_digest
from lens.decode import decode_heads, load_lenses
from lens.errors import LensSpecError
from lens.evaluate import (RESID_NAME, EvalResult, constant_kl, evaluate_lenses, evaluate_lenses_on,
                           mean_final_distribution)
from lens.extend import add_layers
from lens.lenses import params_per_head
from lens.original import import_original
from lens.storage import LensSet
from lens.train import LR_GRID, PATIENCE, Convergence, train_lenses
from promptsets.paths import DEMO_DIR
from sweeps.ray_args import add_ray_args, wants_ray

MAX_STEPS = 10_000

DEFAULT_DATA = DEMO_DIR / "corpus.txt"


def cmd_train(args: argparse.Namespace) -> None:
    if args.add and not (args.fixed and args.layers):
        raise LensSpecError("--add grows a lens folder by fixed-step training of chosen layers: give --fixed and --layers")
    eng = load_engine(args.model, device=args.device, dtype=args.dtype)
    texts = read_texts(args.data)
    if args.add:
        lenses = add_layers(eng, texts, args.out, args.layers, args.kind, args.steps, seed=args.seed, lr=args.lr,
                            rank=args.rank, data_name=Path(args.data).name, batch_size=args.batch_size,
                            checkpoint_every=args.checkpoint_every)
        print(f"{args.out} now holds {lenses.kind} lenses for layers {list(lenses.layers)}")
        return
    converge = None if args.fixed else Convergence(lrs=LR_GRID, patience=args.patience)
    lenses = train_lenses(eng, texts, args.out, kind=args.kind, layers=args.layers, steps=args.steps,
                          seed=args.seed, checkpoint_every=args.checkpoint_every, rank=args.rank,
                          batch_size=args.batch_size, lr=args.lr, data_name=Path(args.data).name,
                          overwrite=args.overwrite, converge=converge)
    print(f"saved {lenses.kind} lenses for layers {list(lenses.layers)} to {args.out}")
    for layer, kl in zip(lenses.layers, lenses.header.final_kl):
        print(f"layer {layer}: held-out KL per head " + " ".join(f"{x:.4f}" for x in kl))


GPT2_SMALL = dict(n_layers=12, n_heads=12, d_model=768, d_vocab=50257)
CONSTANT_NAME = "best constant"
CEILING_NAME = "ceiling: " + RESID_NAME


Bars = list[tuple[str, object]]


def _columns(result: EvalResult, constant: float | None, extra: Bars = ()) -> Bars:
    """(name, (n_layers,) KL) of every column: the head-write lenses, the baselines, then the resid ceiling."""
    cols = [(n, result.kl[i]) for i, n in enumerate(result.names)] + list(extra)
    if constant is not None:
        cols.append((CONSTANT_NAME, [constant] * len(result.layers)))
    return cols + [(CEILING_NAME, result.resid_kl)]


def kl_table(result: EvalResult, constant: float | None = None, extra: Bars = ()) -> list[str]:
    """One line per layer: held-out KL of every head reading and baseline, which is lowest, then the ceiling."""
    cols = _columns(result, constant, extra)
    widths = [max(len(n), 8) + 2 for n, _ in cols]
    lines = [f"held-out KL(final || lens) in nats, mean over heads and {result.n_tokens} positions "
             f"of {result.n_texts} texts",
             "layer " + "".join(n.rjust(w) for (n, _), w in zip(cols, widths)) + "  lowest reading of one head or less"]
    for j, layer in enumerate(result.layers):
        row = [float(v[j]) for _, v in cols]
        best = cols[min(range(len(row) - 1), key=row.__getitem__)][0]
        lines.append(f"{layer:>5} " + "".join(f"{v:{w}.4f}" for v, w in zip(row, widths)) + f"  {best}")
    lines.append(f"({CEILING_NAME}: it reads every head and the MLPs written so far, so no head lens can "
                 "reach it; it is not a competitor)")
    return lines


def _verdict(claim: str, layers: tuple[int, ...], holds) -> str:
    """``claim: yes`` if ``holds`` is true at every layer, else ``NO`` and the layers where it fails."""
    failing = [layer for layer, ok in zip(layers, holds) if not ok]
    return f"{claim} at every layer: " + ("yes" if not failing else f"NO (fails at layers {failing})")


def size_table(lens_sets: Sequence[LensSet]) -> list[str]:
    """Parameters and bytes on disk per layer of each lens set."""
    lines = []
    for lens in lens_sets:
        for layer in lens.layers:
            lines.append(f"{lens.name}, layer {layer}: {lens.n_params(layer):,} parameters, "
                         f"{lens.nbytes(layer):,} bytes")
    return lines


def gpt2_small_sizes(rank: int | None = None) -> list[str]:
    """Compact vs full lens size for a GPT-2-small shape, from shapes alone."""
    s = GPT2_SMALL
    compact = params_per_head("compact", s["d_model"], s["d_vocab"], rank)
    full = params_per_head("full", s["d_model"], s["d_vocab"])
    n = s["n_layers"] * s["n_heads"]
    return [
        f"GPT-2 small shape (d_model {s['d_model']}, d_vocab {s['d_vocab']}): per head compact "
        f"{compact:,} vs full {full:,} parameters; full/compact = {full / compact:.1f}x",
        f"all {n} heads: compact {compact * n / 1e6:.1f} M vs full {full * n / 1e9:.2f} B parameters "
        f"({compact * n * 4 / 2**20:.0f} MiB vs {full * n * 4 / 2**30:.1f} GiB in float32)",
    ]


def goal_lines(result: EvalResult, compact: str | None, full: str | None, constant: float | None = None,
               extra: Bars = ()) -> list[str]:
    """Each comparison that matters, checked at every layer and printed as ``yes`` or ``NO (layers)``.

    Every trained lens against the logit lens on head writes, the best constant distribution and
    the ``extra`` baselines (the current-token table, its own shuffled-position control); and
    compact against full. The residual stream's logit lens is a ceiling, not a bar to clear.
    """
    lines = []
    bars: Bars = [("the logit lens (head writes)", result.row("logit lens (head writes)"))]
    if constant is not None:
        bars.append(("the " + CONSTANT_NAME, [constant] * len(result.layers)))
    for name in (compact, full):
        if name is None:
            continue
        own = [("its shuffled-position control" if b == name + SHUFFLED_SUFFIX else "the " + b, v) for b, v in extra
               if not b.endswith(SHUFFLED_SUFFIX) or b == name + SHUFFLED_SUFFIX]
        for bar, values in bars + own:
            lines.append(_verdict(f"{name} below {bar}", result.layers,
                                  [a < b for a, b in zip(result.row(name), values)]))
    if compact is not None and full is not None:
        lines.append(_verdict("compact KL <= full KL", result.layers,
                              [a <= b for a, b in zip(result.row(compact), result.row(full))]))
    return lines


def baseline_bars(eng, sets: Sequence[LensSet], result: EvalResult, train: list[str], held: list[str],
                  args: argparse.Namespace) -> tuple[Bars, list[str]]:
    """The current-token table and each lens's shuffled-position control as columns, and the per-head verdicts."""
    table = table_kl(eng, held, fit_token_table(eng, train[: args.table_texts], args.batch_size), args.batch_size)
    bars: Bars = [(TABLE_NAME, [table] * len(result.layers))]
    lines = [f"{TABLE_NAME}: fitted on {min(len(train), args.table_texts)} training lines (the best constant "
             f"for input tokens unseen there); held-out KL {table:.4f}"]
    for lens in sets:
        shuffled = shuffled_kl(eng, held, lens, result.layers, batch_size=args.batch_size)
        bars.append((lens.name + SHUFFLED_SUFFIX, shuffled.mean(-1)))
        lines.append(f"{lens.name}: heads that beat the {TABLE_NAME} (KL {table:.2f}), margin in nats:")
        lines += heads_beating(result.kl_heads[result.names.index(lens.name)], table, result.layers)
    return bars, lines


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
    extra, per_head = baseline_bars(eng, sets, result, train, held, args)
    for line in kl_table(result, constant, extra) + [""] + per_head + [""] + size_table(sets) \
            + gpt2_small_sizes(sets[0].header.rank) + [""]:
        print(line)
    names = {s.kind: s.name for s in sets}
    for line in goal_lines(result, names.get("compact"), names.get("full"), constant, extra):
        print(line)


def _eval_on_ray(args: argparse.Namespace, eng, held: list[str]):
    """The held-out evaluation split over Ray workers, one model each."""
    from sweeps.ray_args import engine_pool

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
    t.add_argument("--patience", type=whole(1, 1000, PATIENCE), default=PATIENCE,
                   help="validation checks (every 50 steps) without a gain before stopping")
    t.add_argument("--fixed", action="store_true", help="run exactly --steps steps at --lr (no validation)")
    t.add_argument("--data", type=Path, default=DEFAULT_DATA, help="text file, one document per line")
    t.add_argument("--seed", type=whole(0, 2 ** 32 - 1, 0), default=0)
    t.add_argument("--rank", type=whole(1, 100_000, 16), default=None,
                   help="low-rank compact translators of this rank (below the model's width)")
    t.add_argument("--batch-size", type=whole(1, 4096, 32), default=32)
    t.add_argument("--lr", type=positive(10, 1e-3), default=None,
                   help="Adam learning rate (default: chosen on validation among 1e-3, 3e-3, 1e-2; "
                        "when 1e-2 wins, the rate one grid step above is trained to its stop too, the lower validation KL kept)")
    t.add_argument("--checkpoint-every", type=whole(0, 1_000_000, 100), default=100)
    t.add_argument("--overwrite", action="store_true", help="replace the lenses already in --out (whole)")
    t.add_argument("--add", action="store_true",
                   help="add --layers to the lenses already in --out (with --fixed and the settings they were trained with)")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="held-out KL per layer: logit lens vs trained lenses")
    e.add_argument("--model", required=True)
    e.add_argument("--lenses", required=True, type=Path)
    e.add_argument("--full", type=Path, help="a second (full) lens folder to compare")
    e.add_argument("--data", type=Path, default=DEFAULT_DATA)
    e.add_argument("--max-texts", type=whole(1, 1_000_000, 1000), default=1000)
    e.add_argument("--batch-size", type=whole(1, 4096, 32), default=32)
    e.add_argument("--table-texts", type=whole(1, 10_000_000, 100_000), default=100_000,
                   help="training lines the current-token table is fitted on (default: all of them)")
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
