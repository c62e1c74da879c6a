"""Science check of topic clusters on the demo model, with timings.

The share of each layer is chosen on a validation split carved out of the train
prompts (other entities and phrases), never on held-out: for each percent, clusters
are found on the rest of train, zeroed (mode scale, intensity 0), and their
specificity on top-1 accuracy over the validation prompts is compared with random
clusters of the same per-layer counts drawn from all units. The smallest share that
passes (specificity >= 0.3 for every topic, random <= 0.05) is chosen, or the best
one if none passes. Then the clusters of that share, found on all of train, are
judged once on held-out. Last, the noise curve of each (the research note's finding A).

    python bench/cluster.py [--method attribution|selectivity] [--percents 1,2,3,4,5] [--clusters DIR]
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
from cluster.attribution import answer_attributions, attribution_clusters_from_scores  # noqa: E402
from cluster.find import provenance, topic_clusters_from_acts  # noqa: E402
from cluster.inputs import carve_validation, last_position_acts, select_split  # noqa: E402
from engine import Engine  # noqa: E402
from world.paths import DEMO_DIR, DEMO_PROMPTS  # noqa: E402
from world.prompts import load_keyword_prompts  # noqa: E402

TOPICS = ("athlete", "artist", "company", "toxic")
NOISE = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
GOAL, RANDOM_MAX = 0.3, 0.05


def specificity_at_zero(engine, clusters, evalset, baseline_seeds) -> dict[str, tuple[float, float]]:
    """{topic: (cluster specificity, random specificity)} on top-1 accuracy at scale 0."""
    out = {}
    for topic, cluster in clusters.items():
        curves = impairment_curves(engine, cluster, evalset, "scale", [0.0], baseline_seeds=baseline_seeds)
        out[topic] = (float(curves.specificity("accuracy")[0]), float(curves.specificity("accuracy", baseline=True)[0]))
    return out


def finder(engine, prompts, method: str, prompt_set: str):
    """``clusters(percent)`` for ``prompts``, reading activations or attributions only once."""
    labels = [p.topic for p in prompts]
    where = provenance(engine, prompts, prompt_set)
    if method == "attribution":
        scores = answer_attributions(engine, prompts)
        return lambda percent: attribution_clusters_from_scores(scores, labels, percent, TOPICS, **where)
    acts = last_position_acts(engine, prompts)
    return lambda percent: topic_clusters_from_acts(acts, labels, percent, TOPICS, **where)


def passes(results: dict[str, tuple[float, float]]) -> bool:
    return all(s >= GOAL and r <= RANDOM_MAX for s, r in results.values())


def print_table(title: str, clusters, results) -> None:
    print(title)
    for topic, (s, r) in results.items():
        print(f"{topic:>10}{clusters[topic].size:>7}{s:>8.3f}{r:>8.3f}  {s >= GOAL and r <= RANDOM_MAX}")


def choose_percent(engine, fit, val, method, percents, seeds) -> float:
    """The smallest percent whose clusters (found on ``fit``) pass on ``val``; else the best mean specificity."""
    clusters_at = finder(engine, fit, method, "keywords:train minus validation")
    evalset = make_eval_set(engine, val, None)
    best, best_score = None, -np.inf
    print(f"\nvalidation ({len(val)} prompts carved from train; clusters found on the other {len(fit)})")
    print(f"{'percent':>8}{'topic':>10}{'units':>7}{'spec':>8}{'random':>8}  pass")
    for percent in percents:
        t0 = time.perf_counter()
        clusters = clusters_at(percent)
        results = specificity_at_zero(engine, clusters, evalset, seeds)
        for topic, (s, r) in results.items():
            print(f"{percent:>8g}{topic:>10}{clusters[topic].size:>7}{s:>8.3f}{r:>8.3f}  {s >= GOAL and r <= RANDOM_MAX}")
        print(f"{'':>8}all pass: {passes(results)}   ({time.perf_counter() - t0:.1f}s)")
        if passes(results):
            return percent
        score = np.mean([s for s, _ in results.values()])
        if score > best_score:
            best, best_score = percent, score
    print(f"no percent passes on validation; taking the best mean specificity ({best_score:.3f})")
    return best


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
    parser.add_argument("--method", choices=("attribution", "selectivity"), default="attribution")
    parser.add_argument("--percents", default="1,2,3,4,5")
    parser.add_argument("--baseline-seeds", default="0,1,2")
    parser.add_argument("--clusters", default="", help="folder of shipped clusters to judge on held-out instead")
    parser.add_argument("--noise", action="store_true", help="also print the noise curves")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a small model runs fastest on one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine.load(args.model)
    prompts = load_keyword_prompts(Path(args.prompts))
    heldout = make_eval_set(engine, prompts, "heldout")
    seeds = tuple(int(s) for s in args.baseline_seeds.split(","))
    print(f"model {engine.spec.name}: {engine.spec.n_layers} layers, d_mlp {engine.spec.d_mlp}; "
          f"held-out prompts per topic: {dict(zip(heldout.topics, heldout.counts().tolist()))}")
    if args.clusters:
        clusters = {t: load_cluster(Path(args.clusters) / f"{t}.json", engine) for t in TOPICS}
        title = f"\nshipped clusters ({clusters[TOPICS[0]].method}) on held-out"
    else:
        train = select_split(prompts, "train")
        fit, val = carve_validation(train)
        percent = choose_percent(engine, fit, val, args.method, sorted(float(p) for p in args.percents.split(",")),
                                 seeds)
        print(f"\nchosen on validation: {percent:g}% of each layer ({args.method})")
        clusters = finder(engine, train, args.method, "keywords:train")(percent)
        title = f"\n{args.method} clusters at {percent:g}%, found on all of train, judged once on held-out"
    results = specificity_at_zero(engine, clusters, heldout, seeds)
    print_table(title + f"\n{'topic':>10}{'units':>7}{'spec':>8}{'random':>8}  pass", clusters, results)
    print(f"all pass on held-out: {passes(results)}")
    if args.noise:
        print_noise(engine, clusters, heldout, seeds=(0, 1))


if __name__ == "__main__":
    main()
