"""``python -m cluster find | describe | sweep``: the command-line face of the cluster tools."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from cli import Parser, parse, out_folder, positive, run_command, whole
from cli.args import THREADS_HELP
from cluster.attribution import ALLOCATIONS, CHOSEN_RANK, CHOSEN_ROUNDS, OBJECTIVES, RANKS, find_attribution_clusters
from cluster.curves import curves_from_rows
from cluster.describe import describe_cluster
from cluster.errors import ClusterError
from cluster.find import find_profile_clusters, find_topic_clusters
from cluster.impair import make_eval_set
from cluster.inputs import select_split, topics_of
from cluster.plots import write_sweep_html
from cluster.spec import load_cluster, save_cluster, site_width
from cluster.sweep import CHUNK, SweepSpec, parse_intensities, read_rows, run_sweep
from engine.loading import add_device_args
from engine.interventions import IMPAIR_MODES, IMPAIR_SITES
from promptsets.schema import load_keyword_prompts
from sweeps.ray_args import add_ray_args, sweep_runner

TOPIC_METHODS = {"selectivity": find_topic_clusters, "attribution": find_attribution_clusters}


@contextmanager
def progress_bar(desc: str) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar driven by the core's ``progress(done, total)`` callbacks."""
    bar = tqdm(desc=desc, unit="step", leave=False)
    try:
        def update(done: int, total: int) -> None:
            if bar.total != total:
                bar.reset(total=total)
            bar.update(done - bar.n)
        yield update
    finally:
        bar.close()


def _split(name: str) -> str | None:
    """``--split all`` means every prompt."""
    return None if name == "all" else name


def _flag(parse):
    """An argparse type from a parser that raises ClusterError, so the message names the flag."""
    def check(text: str):
        try:
            return parse(text)
        except ClusterError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return check


def _modes(text: str) -> tuple[str, ...]:
    """``--modes noise,scale``: impairment modes, checked before the model loads."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in IMPAIR_MODES]
    if bad or not modes:
        raise ClusterError(f"unknown or no modes {bad}; use some of {', '.join(IMPAIR_MODES)}")
    return modes


def _seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2`` as integers (at most 1000 of them, each from 0 to 2**32 - 1)."""
    how = "write whole numbers from 0 to 4294967295 separated by commas, e.g. 0,1"
    parts = [s for s in text.split(",") if s.strip()]
    if not parts or len(parts) > 1000:
        raise ClusterError(f"--seeds takes 1 to 1000 seeds; {how}")
    try:
        seeds = tuple(int(s) for s in parts)
    except ValueError:
        raise ClusterError(f"cannot read seeds {text[:40]!r}; {how}") from None
    if not all(0 <= s < 2 ** 32 for s in seeds):
        raise ClusterError(f"seeds {text[:40]!r} are out of range; {how}")
    return seeds


def load_engine(args: argparse.Namespace):
    """The engine for ``--model`` on ``--device`` in ``--dtype`` (imported when called, so ``--help`` stays fast)."""
    from cli import load_engine as load

    return load(args.model, device=args.device, dtype=args.dtype)


def cmd_find(args: argparse.Namespace) -> None:
    """Find clusters and write one JSON file per cluster."""
    if args.allocate != "per-layer" and args.method != "attribution":
        raise ClusterError(f"--allocate {args.allocate} ranks units across layers by attribution; "
                           "use it with --method attribution")
    prompts = load_keyword_prompts(Path(args.prompts))
    engine = load_engine(args)
    if args.method in TOPIC_METHODS:
        check_percent(args.percent, site_width(engine.spec, args.site))
    with progress_bar("reading activations") as progress:
        if args.method in TOPIC_METHODS:
            topics = args.topics.split(",") if args.topics else None
            how = ({"objective": args.objective, "rank": args.rank, "rounds": args.rounds, "allocate": args.allocate}
                   if args.method == "attribution" else {})
            clusters = TOPIC_METHODS[args.method](engine, prompts, args.percent, topics=topics,
                                                  split=_split(args.split), site=args.site, progress=progress, **how)
        else:
            clusters = find_profile_clusters(engine, prompts, args.k, method=args.method, split=_split(args.split),
                                             site=args.site, seed=args.seed, progress=progress)
    print(f"{'cluster':<16}{'topic':<12}{'units':>6}  per layer")
    for name, cluster in clusters.items():
        path = save_cluster(cluster, Path(args.out) / f"{name}.json")
        counts = " ".join(str(c) for c in cluster.counts(engine.spec.n_layers))
        print(f"{name:<16}{cluster.topic or '-':<12}{cluster.size:>6}  {counts}   -> {path}")


def check_percent(percent: float, width: int) -> None:
    """``--percent`` must choose at least one of a layer's ``width`` units (it rounds to whole units)."""
    if width * percent / 100 < 0.5:
        raise ClusterError(f"--percent {percent:g} selects no unit of a layer of {width} units; pass at least "
                           f"{50 / width:.3g} (one unit per layer)")


def cmd_describe(args: argparse.Namespace) -> None:
    """Print where a cluster's units are, what fires them and what they promote."""
    engine = load_engine(args)
    cluster = load_cluster(args.cluster, engine)
    with progress_bar("reading activations") as progress:
        d = describe_cluster(engine, cluster, load_keyword_prompts(Path(args.prompts)), split=_split(args.split),
                             top_k=args.top, max_units=args.units, progress=progress)
    print(f"cluster {d.name!r} ({cluster.method}, topic {cluster.topic}): {cluster.size} {d.site} units")
    print("units per layer: " + ", ".join(f"L{layer}: {c}" for layer, c in enumerate(d.counts)))
    print("\nprompts that fire it most (last position):")
    for f in d.top_prompts:
        print(f"  {f.score:+6.2f}  [{f.topic}] {f.prompt!r}")
    print("\ntoken positions that fire it most:")
    for f in d.top_tokens:
        print(f"  {f.score:+6.2f}  {f.pos}: {f.token!r}  in [{f.topic}] {f.prompt!r}")
    print("\ntokens the cluster's summed output promotes: " + " ".join(repr(t) for t in d.cluster_tokens))
    for u in d.units:
        print(f"  L{u.layer} n{u.unit} (score {u.score:+.2f}): " + " ".join(repr(t) for t in u.tokens))


def cmd_sweep(args: argparse.Namespace) -> None:
    """Run (or resume) a sweep, then write the CSV's plot and print the specificity."""
    topics = topics_of(select_split(load_keyword_prompts(Path(args.prompts)), _split(args.split)))
    if args.target and args.target not in topics:
        raise ClusterError(f"--target {args.target!r} is not a topic of the {args.split} prompts; "
                           f"choose one of {', '.join(topics)}")
    if not Path(args.cluster).is_file():
        raise ClusterError(f"--cluster {args.cluster} is not a file; pass a cluster JSON, e.g. "
                           "assets/demo/clusters/athlete.json")
    spec = SweepSpec(modes=args.modes, intensities=args.intensities,
                     seeds=args.seeds, samples=args.samples, baseline=not args.no_baseline, chunk=args.chunk)
    engine = load_engine(args)
    cluster = load_cluster(args.cluster, engine)
    if args.site and args.site != cluster.site:
        raise ClusterError(f"cluster {cluster.name!r} holds {cluster.site} units, not {args.site} units; "
                           f"find a cluster at that site with `python -m cluster find --site {args.site}`")
    evalset = make_eval_set(engine, load_keyword_prompts(Path(args.prompts)), _split(args.split))
    out = Path(args.out)
    csv_path, html_path = out / f"{cluster.name}-sweep.csv", out / f"{cluster.name}-sweep.html"
    with sweep_runner(args, engine) as runner, progress_bar(f"sweeping {cluster.name}") as progress:
        ran = run_sweep(engine, cluster, evalset, spec, csv_path, progress=progress, runner=runner)
    rows = read_rows(csv_path)
    target = args.target or cluster.topic
    write_sweep_html(rows, html_path, target)
    print(f"{ran} new points; {len(rows)} rows in {csv_path}; plot in {html_path}")
    if target in evalset.topics and len(evalset.topics) > 1:
        print_specificity(rows, spec.modes, target)
    else:
        print(f"no specificity table: it needs the target topic ({target or 'none: pass --target'}) among "
              f"two or more topics of the prompts ({', '.join(evalset.topics)})")


def print_specificity(rows: list[dict[str, str]], modes: tuple[str, ...], target: str) -> None:
    """Print, per mode and intensity, the accuracy specificity of the cluster and of random clusters."""
    for mode in modes:
        curves = curves_from_rows(rows, mode, target)
        spec = curves.specificity("accuracy")
        base = curves.specificity("accuracy", baseline=True) if curves.baseline is not None else None
        print(f"\n{mode}: specificity on top-1 accuracy (target {target!r} drop - others' mean drop)")
        print(f"{'intensity':>10}{'cluster':>10}{'random':>10}")
        for j, x in enumerate(curves.intensities):
            rand = f"{base[j]:>10.3f}" if base is not None else f"{'-':>10}"
            print(f"{x:>10.3g}{spec[j]:>10.3f}{rand}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m cluster``."""
    parser = Parser(prog="python -m cluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="model folder or Hugging Face name in the local cache")
    common.add_argument("--prompts", required=True, help="folder holding keywords.jsonl")
    common.add_argument("--threads", type=whole(0, 1024, 1), default=1, help=THREADS_HELP)
    add_device_args(common)
    find = sub.add_parser("find", parents=[common], help="find clusters and save them as JSON")
    find.add_argument("--out", required=True, type=out_folder, help="folder for the <name>.json cluster files")
    find.add_argument("--method", default="selectivity", choices=(*TOPIC_METHODS, "kmeans", "agglomerative"),
                      help="selectivity: units that fire most on the topic; attribution: units its answers rely on "
                           "(activation x gradient of the answer logit); kmeans/agglomerative: activation profiles")
    find.add_argument("--percent", type=positive(100, 3), default=3.0,
                      help="selectivity/attribution: top percent of each layer's units, in (0, 100]")
    find.add_argument("--objective", default="logit", choices=OBJECTIVES,
                      help="attribution: what a unit's share is of (contrast: the answer's logit minus the mean "
                           "logit of the other topics' answers)")
    find.add_argument("--rank", default=CHOSEN_RANK, choices=RANKS,
                      help="attribution: a unit's score, the topic's mean attribution, its mean over the topic's "
                           "answers (balanced, the default: chosen on validation) or minus the other topics' mean "
                           "(specific)")
    find.add_argument("--rounds", type=whole(1, 100, CHOSEN_ROUNDS), default=CHOSEN_ROUNDS,
                      help="attribution: grow each cluster in this many rounds, each recomputing the attributions with "
                           "the units chosen before it zeroed (1: one-shot; the default was chosen on validation)")
    find.add_argument("--allocate", default="per-layer", choices=ALLOCATIONS,
                      help="attribution: per-layer, --percent of each layer; global, the same number of units in all, "
                           "allocated across layers by attribution score in every round")
    find.add_argument("--topics", default="", help="selectivity/attribution: comma list of topics (default: all)")
    find.add_argument("--k", type=whole(2, 10_000, 8), default=8, help="kmeans/agglomerative: number of clusters")
    find.add_argument("--seed", type=whole(0, 2 ** 32 - 1, 0), default=0)
    find.add_argument("--split", default="train", help="prompt split to use, or all")
    find.add_argument("--site", default="mlp_post", choices=IMPAIR_SITES)
    describe = sub.add_parser("describe", parents=[common], help="print what a cluster is")
    describe.add_argument("--cluster", required=True, help="cluster JSON file")
    describe.add_argument("--top", type=whole(1, 1000, 10), default=10)
    describe.add_argument("--units", type=whole(1, 1000, 10), default=10, help="how many units to list promoted tokens for")
    describe.add_argument("--split", default="train")
    sweep = sub.add_parser("sweep", parents=[common], help="impairment curves to CSV + HTML (resumable)")
    sweep.add_argument("--cluster", required=True, help="cluster JSON file")
    sweep.add_argument("--out", required=True, type=out_folder, help="folder for <cluster>-sweep.csv and .html")
    sweep.add_argument("--modes", default="noise,negative_noise,scale", type=_flag(_modes),
                       help=f"comma list of {', '.join(IMPAIR_MODES)}")
    sweep.add_argument("--intensities", default="0:2:0.1", type=_flag(parse_intensities),
                       help="start:stop:step (stop included) or a comma list")
    sweep.add_argument("--seeds", default="0", type=_flag(_seeds))
    sweep.add_argument("--samples", type=whole(1, 256, 1), default=1, help="noise draws per run")
    sweep.add_argument("--site", default="", choices=("", *IMPAIR_SITES), help="must match the cluster's site")
    sweep.add_argument("--split", default="heldout")
    sweep.add_argument("--target", default="", help="target topic (default: the cluster's)")
    sweep.add_argument("--no-baseline", action="store_true", help="skip the random-cluster rows")
    sweep.add_argument("--chunk", type=whole(1, 10_000, CHUNK), default=CHUNK,
                       help="points per batch and per Ray task (lower it to keep more Ray workers busy)")
    add_ray_args(sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; user errors print one line and exit with status 2, Ctrl-C with 130."""
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    command = {"find": cmd_find, "describe": cmd_describe, "sweep": cmd_sweep}[args.command]
    return run_command(command, args, resumable=args.command == "sweep")
