"""Command line: ``python -m edit apply|sweep`` (the same core the app's Edit page calls)."""

from __future__ import annotations

import sys

from cli.entry import run_main

# Run as ``python -m edit``, this file hands itself to ``run_main``, which imports it again as ``edit.__main__``
# with Ctrl-C held while torch loads (a press then ends in one line, not a traceback) and calls its ``main``.
if __name__ == "__main__":
    sys.exit(run_main("edit.__main__"))

import argparse
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from cli import Parser, finite, load_engine, out_folder, parse, run_command, whole
from cli.args import THREADS_HELP
from cluster.errors import ClusterError
from cluster.sweep import parse_intensities
from edit.methods import apply_edit
from edit.score import RELATIONS, ROBUST_MODES, EditCase, case_for, demo_cases, demo_texts, robustness_curves, score_edit
from edit.spec import KEY_POSITIONS, METHODS, EditSpec, EditSpecError, Fact
from edit.sweep import CSV_NAME, SweepSettings, format_table, method_specs, run_edit_job, scores_line, summarise
from engine.loading import add_device_args
from promptsets.schema import load_fact_prompts
from sweeps.ray_args import add_ray_args, sweep_runner


def parse_floats(text: str) -> tuple[float, ...]:
    """--intensities: the cluster sweep's own reader (bounded, finite, counted before it is built),
    as an argparse type so a bad value names its flag."""
    try:
        return parse_intensities(text)
    except ClusterError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_method(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model folder (HF format) or a Hugging Face name")
    add_device_args(p)
    p.add_argument("--layer", type=whole(0, 100_000, 1), default=1, help="the block whose MLP output weights are edited")
    p.add_argument("--rank", type=whole(1, 4096, 4), default=4, help="rank of the direct low-rank edit")
    p.add_argument("--alpha", type=finite(0.0, 1.0, 0.5), default=0.5, help="1-LI weight: 0 = original layer, 1 = fine-tuned")
    p.add_argument("--steps", type=whole(1, 100_000, 60), default=60, help="most training steps (every method)")
    p.add_argument("--target-p", type=finite(0.01, 0.99, 0.9), default=0.9, help="stop training once p(new object) reaches this")
    p.add_argument("--key", choices=KEY_POSITIONS, default="last", help="where the rank-one edit reads its key")
    p.add_argument("--heldout", type=whole(0, 10_000, 24), default=24, help="held-out demo documents for general damage (0: skip)")
    p.add_argument("--mode", choices=ROBUST_MODES, default="noise", help="impairment for the robustness curves")
    p.add_argument("--intensities", default="0:6:1", type=parse_floats,
                   help="start:stop:step (stop included) or a list")
    p.add_argument("--samples", type=whole(1, 1024, 8), default=8, help="noise draws per run")
    p.add_argument("--threads", type=whole(0, 1024, 1), default=1, help=THREADS_HELP)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m edit``."""
    root = Parser(prog="python -m edit", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    ap = sub.add_parser("apply", help="edit one fact, print before/after and its scores")
    _add_method(ap)
    ap.add_argument("--method", choices=METHODS, default="rank_one")
    ap.add_argument("--prompt", required=True, help="the text before the object, e.g. 'Dadon plays'")
    ap.add_argument("--subject", required=True, help="the subject as the prompt spells it, e.g. Dadon")
    ap.add_argument("--new", required=True, help="the new object with its leading space, e.g. ' cycling'")
    ap.add_argument("--prompts", default=None, help="folder with facts.jsonl (paraphrases, neighbours)")
    ap.add_argument("--cluster", default=None, help="cluster JSON for the robustness curves (optional)")
    sw = sub.add_parser("sweep", help="edit many demo facts with each method -> CSV (resumable) + table")
    _add_method(sw)
    sw.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    sw.add_argument("--prompts", required=True, help="folder holding facts.jsonl")
    sw.add_argument("--clusters", default="", help="folder of topic clusters (<topic>.json) for robustness")
    sw.add_argument("--n", type=whole(1, 100_000, 50), default=50, help="number of facts to edit")
    sw.add_argument("--relations", default=",".join(r for r in RELATIONS if r != "country"),
                    help="comma list of relations to draw facts from")
    sw.add_argument("--seed", type=whole(0, 2**31 - 1, 0), default=0, help="which facts and new objects are drawn")
    sw.add_argument("--out", type=out_folder, required=True, help="output folder; rerun with the same folder to resume")
    sw.add_argument("--chunk", type=whole(1, 100_000, 4), default=None,
                    help="edits (fact x method) per task, here and per Ray task (default: one fact's methods); "
                         "each edit is its own run, so its row does not depend on the chunk")
    add_ray_args(sw)
    return root


def _load(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    return load_engine(args.model, device=args.device, dtype=args.dtype)


def check_rank(engine, args) -> None:
    """``--rank`` (of a low-rank edit) must fit the layer's output weights ``(d_mlp, d_model)``, for every method."""
    most = min(engine.spec.d_mlp, engine.spec.d_model)
    if args.rank > most:
        raise EditSpecError(f"--rank {args.rank} is above this model's MLP output weights' rank ({engine.spec.d_mlp} x "
                            f"{engine.spec.d_model}); pass --rank from 1 to {most}")


def check_clusters(folder: str, cases: Sequence[EditCase]) -> None:
    """``--clusters`` must be a folder holding a ``<topic>.json`` for some case's topic (else every curve is empty)."""
    if not folder:
        return
    if not Path(folder).is_dir():
        raise EditSpecError(f"--clusters {folder} is not a folder; pass a folder of <topic>.json clusters, "
                            "e.g. assets/demo/clusters, or leave it out to skip the robustness curves")
    topics = sorted({c.topic for c in cases if c.topic})
    if not any((Path(folder) / f"{t}.json").is_file() for t in topics):
        raise EditSpecError(f"--clusters {folder} holds no cluster of the edited topics "
                            f"({', '.join(topics) or 'none'}): no <topic>.json file; pass another folder")


def _spec(args, method: str) -> EditSpec:
    return EditSpec(method=method, layer=args.layer, rank=args.rank, alpha=args.alpha, steps=args.steps,
                    target_p=args.target_p, key=args.key)


def _case(args, engine) -> EditCase:
    answer = engine.token_strs([int(engine.run(args.prompt).probs_mean.argmax())])[0]
    if args.prompts:
        facts = load_fact_prompts(Path(args.prompts))
        row = next((f for f in facts if f.prompt.strip() == args.prompt.strip()), None)
        if row is not None:
            return case_for(row, args.new, facts)
    return EditCase(Fact(args.prompt, args.subject, args.new, answer))


def cmd_apply(args) -> None:
    """Edit one fact and print its rows, scores and (with --cluster) robustness."""
    engine = _load(args)
    check_rank(engine, args)
    case = _case(args, engine)
    keys, heldout = demo_texts(args.model, args.heldout)
    result = apply_edit(engine, case.fact, _spec(args, args.method), keys)
    scores = score_edit(engine, case, result.delta, heldout)
    print(f"{result.spec.label} on layer {result.spec.layer}: {result.steps} steps, p(new) {result.p_trained:.3f}")
    for r in scores.rows:
        print(f"  [{r.kind:10}] {r.prompt!r} -> {r.target!r}: p {r.p_before:.3f} -> {r.p_after:.3f}  "
              f"top {r.top_before!r} -> {r.top_after!r}")
    print(scores_line(scores))
    if args.cluster:
        from cluster.spec import load_cluster

        curves = robustness_curves(engine, case, result.delta, load_cluster(args.cluster, engine), args.mode,
                                   args.intensities, args.samples)
        print(f"{args.mode} intensity: " + " ".join(f"{x:g}" for x in curves.intensities))
        for name in ("edited", "learned", "edited_random", "learned_random"):
            values = getattr(curves, name)
            print(f"  {name:15} " + " ".join(f"{v:.2f}" for v in values) + f"   halves at {curves.halving(name):.2f}")


def cmd_sweep(args) -> None:
    """Run or resume a sweep and print the per-method table."""
    cases = demo_cases(args.n, args.seed, Path(args.prompts), tuple(r for r in args.relations.split(",") if r))
    check_clusters(args.clusters, cases)
    specs = method_specs([m for m in args.methods.split(",") if m], _spec(args, "rank_one"))
    engine = _load(args)
    check_rank(engine, args)
    settings = SweepSettings(args.mode, args.intensities, args.samples, args.seed,
                             clusters=args.clusters)
    keys, heldout = demo_texts(args.model, args.heldout)
    with sweep_runner(args, engine) as runner, \
            tqdm(total=len(cases) * len(specs), desc="edit sweep", unit="edit") as bar:
        rows = run_edit_job(engine, cases, specs, settings, Path(args.out), keys, heldout,
                            lambda done, total: bar.update(done - bar.n), runner, args.chunk)
    print(format_table(summarise(rows), args.mode))
    print(f"rows: {Path(args.out) / CSV_NAME}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    command = {"apply": cmd_apply, "sweep": cmd_sweep}[args.command]
    return run_command(command, args, resumable=args.command == "sweep")
