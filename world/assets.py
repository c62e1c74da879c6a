"""The demo's derived assets: compact Attention Lenses and topic clusters, made with the core's own code."""

from __future__ import annotations

from pathlib import Path

from cluster import find_topic_clusters, save_cluster
from cluster.attribution import find_attribution_clusters
from engine import Engine
from lens.train import Convergence
from lens.train import train_lenses
from promptsets.schema import KeywordPrompt
from world.config import AssetsConfig

LENSES_DIR = "lenses"
CLUSTERS_DIR = "clusters"


def build_lenses(engine: Engine, docs: list[str], out: Path, config: AssetsConfig, seed: int) -> Path:
    """Train compact lenses for every head on the corpus into ``out/lenses``, until the validation KL stops falling."""
    folder = out / LENSES_DIR
    train_lenses(engine, docs, folder, kind="compact", steps=config.lens_steps, seed=seed,
                 checkpoint_every=config.lens_steps + 1, data_name="demo corpus", overwrite=True,
                 converge=Convergence(lrs=config.lens_lrs, patience=config.lens_patience))
    return folder


def build_clusters(engine: Engine, prompts: list[KeywordPrompt], out: Path, config: AssetsConfig) -> list[Path]:
    """Find the topic clusters on the train split of the keyword prompts (by ``config.cluster_method``); one JSON file per topic."""
    if config.cluster_method == "attribution":
        clusters = find_attribution_clusters(engine, prompts, config.cluster_percent, topics=config.cluster_topics,
                                             split="train", objective=config.cluster_objective,
                                             rank=config.cluster_rank, rounds=config.cluster_rounds,
                                             allocate=config.cluster_allocate)
    else:
        clusters = find_topic_clusters(engine, prompts, config.cluster_percent, topics=config.cluster_topics,
                                       split="train")
    return [save_cluster(clusters[t], out / CLUSTERS_DIR / f"{t}.json") for t in config.cluster_topics]
