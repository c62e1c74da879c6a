"""Science check of topic clusters on the demo model, with timings.

For each cluster size (percent of every layer), find the topic clusters on the
train prompts, zero them (mode scale, intensity 0) and print the specificity on
top-1 accuracy over held-out prompts, against random clusters of the same
per-layer counts. Then print the noise curve (mean drop over topics) of each
cluster, the research note's finding A.

    python bench/cluster.py [--model assets/demo] [--percents 1,2,3,5,7,10] [--clusters DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster import impairment_curves, load_cluster, make_eval_set  # noqa: E402
from cluster.activations import last_position_acts  # noqa: E402
from cluster.find import provenance, topic_clusters_from_acts  # noqa: E402
from cluster.prompts import select_split  # noqa: E402
from engine import Engine  # noqa: E402
from world.paths import DEMO_DIR, DEMO_PROMPTS  # noqa: E402
from world.prompts import load_keyword_prompts  # noqa: E402

TOPICS = ("athlete", "artist", "company", "toxic")
NOISE = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


def specificity_at_zero(engine, clusters, evalset, baseline_seeds) -> dict[str, tuple[float, float]]:
    """{topic: (cluster specificity, random specificity)} on top-1 accuracy at scale 0."""
    out = {}
    for topic, cluster in clusters.items():
        curves = impairment_curves(engine, cluster, evalset, "scale", [0.0], baseline_seeds=baseline_seeds)
        out[topic] = (float(curves.specificity("accuracy")[0]), float(curves.specificity("accuracy", baseline=True)[0]))
    return out


def sweep_percents(engine, prompts, evalset, percents, topics, baseline_seeds) -> tuple[float | None, dict]:
    """Print the table for each percent; return the smallest that passes (>= 0.3 vs < 0.1) for every
    topic, and the clusters of that percent (of the largest one if none passes)."""
    train = select_split(prompts, "train")
    t0 = time.perf_counter()
    acts = last_position_acts(engine, train)
    print(f"activations of {len(train)} train prompts: {time.perf_counter() - t0:.1f}s")
    where = provenance(engine, train, "keywords:train")
    smallest, chosen = None, {}
    print(f"\n{'percent':>8}{'topic':>10}{'units':>7}{'spec':>8}{'random':>8}  pass")
    for percent in percents:
        clusters = topic_clusters_from_acts(acts, [p.topic for p in train], percent, topics, **where)
        t0 = time.perf_counter()
        results = specificity_at_zero(engine, clusters, evalset, baseline_seeds)
        ok = all(s >= 0.3 and r < 0.1 for s, r in results.values())
        for topic, (s, r) in results.items():
            print(f"{percent:>8g}{topic:>10}{clusters[topic].size:>7}{s:>8.3f}{r:>8.3f}  {s >= 0.3 and r < 0.1}")
        print(f"{'':>8}all pass: {ok}   ({time.perf_counter() - t0:.1f}s)")
        if smallest is None:
            chosen = clusters
            if ok:
                smallest = percent
    return smallest, chosen


def print_noise(engine, clusters, evalset, seeds) -> None:
    """Mean drop over all topics of loss and accuracy against noise intensity, per cluster."""
    print(f"\nnoise (mean over topics; seeds {list(seeds)}): intensity -> loss rise / accuracy drop")
    for name, cluster in clusters.items():
        t0 = time.perf_counter()
        c = impairment_curves(engine, cluster, evalset, "noise", NOISE, seeds=seeds, baseline_seeds=())
        loss, acc = c.drop("loss").mean(axis=0), c.drop("accuracy").mean(axis=0)
        cells = "  ".join(f"{x:g}: {l_:.2f}/{a:.2f}" for x, l_, a in zip(NOISE, loss, acc))
        rising = bool(np.all(np.diff(loss) >= -1e-6))
        print(f"{name:>10}  {cells}  rising: {rising}  ({time.perf_counter() - t0:.1f}s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEMO_DIR))
    parser.add_argument("--prompts", default=str(DEMO_PROMPTS))
    parser.add_argument("--percents", default="1,2,3,5,7,10")
    parser.add_argument("--topics", default=",".join(TOPICS))
    parser.add_argument("--baseline-seeds", default="0,1,2")
    parser.add_argument("--clusters", default="", help="folder of shipped clusters to check instead of finding them")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a small model runs fastest on one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine.load(args.model)
    prompts = load_keyword_prompts(Path(args.prompts))
    evalset = make_eval_set(engine, prompts, "heldout")
    topics = tuple(args.topics.split(","))
    seeds = tuple(int(s) for s in args.baseline_seeds.split(","))
    print(f"model {engine.spec.name}: {engine.spec.n_layers} layers, d_mlp {engine.spec.d_mlp}; "
          f"held-out prompts per topic: {dict(zip(evalset.topics, evalset.counts().tolist()))}")
    if args.clusters:
        clusters = {t: load_cluster(Path(args.clusters) / f"{t}.json", engine) for t in topics}
        for topic, (s, r) in specificity_at_zero(engine, clusters, evalset, seeds).items():
            print(f"{topic:>10} ({clusters[topic].size} units): specificity {s:.3f}, random {r:.3f}")
    else:
        percents = [float(p) for p in args.percents.split(",")]
        smallest, clusters = sweep_percents(engine, prompts, evalset, sorted(percents), topics, seeds)
        print(f"\nsmallest passing percent: {smallest}")
    print_noise(engine, clusters, evalset, seeds=(0, 1))


if __name__ == "__main__":
    main()
