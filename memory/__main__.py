"""Command line: ``python -m memory sweep|inject|check`` (the same core the app's Memory page calls)."""

from __future__ import annotations

import sys

from cli.entry import run_main

# Run as ``python -m memory``, this file hands itself to ``run_main``, which imports it again as ``memory.__main__``
# with Ctrl-C held while torch loads (a press then ends in one line, not a traceback) and calls its ``main``.
if __name__ == "__main__":
    sys.exit(run_main("memory.__main__"))

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from cli import Parser, load_engine, parse, finite, out_folder, run_command, whole
from cli.args import THREADS_HELP, UsageError, read_range
from engine.loading import add_device_args
from memory.evaluate import (answers_top1, format_report, format_stats, repair_check, repair_stats,
                             split_prompts, two_hop_cases)
from memory.inject import MEMORY_SOURCES, InjectionSpec, MemorySpecError, inject_memory
from memory.sweep import CHUNK, CSV_NAME, LayerScaleSweep, SweepSpec, run_sweep_job
from sweeps.ray_args import add_ray_args, sweep_runner


def parse_range(text: str, kind: type) -> tuple:
    """"1:15:1" (stop included), "1,2,4" or "3" -> a tuple of ``kind`` (:func:`cli.args.read_range`,
    the reader of every range flag); MemorySpecError if unreadable."""
    try:
        return read_range(text, kind)
    except UsageError as err:
        raise MemorySpecError(str(err)) from None


def parse_positions(text: str):
    """"all", "last" or a list of positions like "0,-1"."""
    return text if text in ("all", "last") else parse_range(text, int)


def _flag(parse):
    """An argparse type from a parser that raises MemorySpecError, so the message names the flag."""
    def check(text: str):
        try:
            return parse(text)
        except MemorySpecError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return check


def _memories(text: str) -> tuple[str, ...]:
    labels = tuple(m.strip() for m in text.split(",") if m.strip())
    if not labels or not set(labels) <= {"bridge", "control"}:
        raise MemorySpecError("write bridge, control or bridge,control")
    return labels


def _layers_flag(text: str):
    return text if text == "all" else parse_range(text, int)


def _scales_flag(text: str):
    return parse_range(text, float)


def _add_recipe(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model folder (HF format) or a name in the local HF cache")
    p.add_argument("--source", choices=MEMORY_SOURCES, default="unembedding", help="rows summed into the memory")
    p.add_argument("--normalise", action="store_true", help="rescale the memory to unit norm before the scale")
    p.add_argument("--positions", default="all", type=_flag(parse_positions),
                   help="all (the paper), last, or a list like 0,-1")
    p.add_argument("--threads", type=whole(0, 1024, 1), default=1, help=THREADS_HELP)
    add_device_args(p)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m memory``."""
    root = Parser(prog="python -m memory", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="layer x scale sweep over two-hop prompts -> CSV + HTML heatmaps (resumable)")
    _add_recipe(sw)
    sw.add_argument("--prompts", required=True, help="folder holding two_hop.jsonl")
    sw.add_argument("--split", default="heldout", help="taught, heldout, or all")
    sw.add_argument("--layers", default="all", type=_flag(_layers_flag), help="all, or e.g. 0:3 or 1,2")
    sw.add_argument("--scales", default="1:15:1", type=_flag(_scales_flag),
                    help="start:stop[:step], stop included, or a list")
    sw.add_argument("--memories", default="bridge,control", type=_flag(_memories),
                    help="which entity to inject: bridge, control or both")
    sw.add_argument("--only-wrong", action="store_true", help="keep only prompts whose answer is not top-1")
    sw.add_argument("--out", required=True, type=out_folder, help="output folder; rerun with the same folder to resume")
    sw.add_argument("--chunk", type=whole(1, 10_000, CHUNK), default=CHUNK,
                    help="cells of one prompt per batch and per Ray task, cut from its layer x scale grid at fixed "
                         "boundaries (part of the sweep's identity)")
    add_ray_args(sw)
    inj = sub.add_parser("inject", help="inject one memory into one prompt and print the answer's probability")
    _add_recipe(inj)
    inj.add_argument("--prompt", required=True)
    inj.add_argument("--memory", required=True, help="memory text, e.g. ' Loteix' (mind the leading space)")
    inj.add_argument("--answer", default=None, help="expected answer, e.g. ' Marlow'; default: the clean top-1 token")
    inj.add_argument("--layer", type=whole(0, 100_000, 1), required=True)
    inj.add_argument("--scale", type=finite(-1e6, 1e6, 4), default=1.0)
    ck = sub.add_parser("check", help="repair check: choose layer/scale on taught prompts, test bridge vs control")
    _add_recipe(ck)
    ck.add_argument("--prompts", required=True, help="folder holding two_hop.jsonl")
    ck.add_argument("--layers", default="all", type=_flag(_layers_flag))
    ck.add_argument("--scales", default="1:15:1", type=_flag(_scales_flag))
    return root


def _spec(args) -> SweepSpec:
    layers = None if args.layers == "all" else args.layers
    return SweepSpec(layers=layers, scales=args.scales, source=args.source, normalise=args.normalise,
                     positions=args.positions, chunk=getattr(args, "chunk", CHUNK))


def _load(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    return load_engine(args.model, device=args.device, dtype=args.dtype)


def _prompts(args) -> list:
    from promptsets.schema import load_two_hop_prompts

    return load_two_hop_prompts(Path(args.prompts))


def summarise(sweep: LayerScaleSweep) -> str:
    """Per label: the best cell by median gain, and the stats there and at each prompt's own best cell."""
    lines = []
    for label in sorted(sweep.labels):
        s = sweep.select(label)
        med = np.median(s.gain, axis=0)
        i, j = np.unravel_index(int(np.argmax(med)), med.shape)
        lines.append(f"[{label}] best cell by median gain: layer {s.layers[i]}, scale {s.scales[j]:g}")
        lines.append(format_stats(f"{label} @ that cell", repair_stats(s.gain[:, i, j])))
        lines.append(format_stats(f"{label} @ own best", repair_stats(s.best_gains()[0])))
    return "\n".join(lines)


def cmd_sweep(args) -> None:
    """Run or resume a sweep and print its summary."""
    prompts, labels = _prompts(args), args.memories
    if args.split != "all":
        prompts = split_prompts(prompts, args.split)
    engine = _load(args)
    if args.only_wrong:
        prompts = [p for p in prompts if not answers_top1(engine, p.prompt, p.answer)]
    cases = two_hop_cases(prompts, labels)
    with tqdm(total=1, desc="memory sweep", unit="run") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        with sweep_runner(args, engine) as runner:
            sweep = run_sweep_job(engine, cases, _spec(args), Path(args.out), progress, runner)
    print(summarise(sweep))
    print(f"rows: {Path(args.out) / CSV_NAME}; heatmaps: {Path(args.out)}/heatmap_*.html")


def cmd_inject(args) -> None:
    """Inject once and print before/after."""
    spec = InjectionSpec(args.memory, args.layer, args.scale, args.source, args.normalise, args.positions)
    r = inject_memory(_load(args), args.prompt, args.answer, spec)
    print(f"memory tokens: {list(r.memory_tokens)}  layer {spec.layer}  scale {spec.scale:g}  positions {spec.positions}")
    print(f"P({r.answer_token!r}) before {r.p_before:.6g}  after {r.p_after:.6g}  gain ×{r.gain:.4g}")
    print("top before: " + ", ".join(f"{t!r} {p:.3f}" for t, p in r.top_before))
    print("top after:  " + ", ".join(f"{t!r} {p:.3f}" for t, p in r.top_after))


def cmd_check(args) -> None:
    """Run the repair check and print the report."""
    engine, prompts = _load(args), _prompts(args)
    with tqdm(total=1, desc="repair check", unit="run") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report, _, _ = repair_check(engine, prompts, _spec(args), progress)
    print(format_report(report))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    command = {"sweep": cmd_sweep, "inject": cmd_inject, "check": cmd_check}[args.command]
    return run_command(command, args, resumable=args.command == "sweep")
