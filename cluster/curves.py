"""Impairment curves: metric against intensity, one line per topic, with a random-cluster baseline.

Computed from a model (``impairment_curves``), or rebuilt from a sweep's CSV rows, each point
averaged over seeds (``curves_from_rows``); either way one ``ImpairmentCurves``, which the app,
the command line and a sweep's HTML page draw with :mod:`cluster.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from cluster.errors import ClusterError
from cluster.impair import (METRICS, WORSE, EvalSet, impairs, make_eval_set, metric_index, random_cluster, score,
                            score_batch)
from cluster.inputs import Progress, unit_means
from cluster.spec import Cluster, check_cluster, site_width
from engine.engine import Engine
from engine.interventions import NOISY_MODES, Positions
from promptsets.schema import KeywordPrompt

# The clean metrics a sweep row carries (its KL from clean is 0 by definition).
CLEAN_COLUMNS = ("clean_prob", "clean_loss", "clean_accuracy")


@dataclass(frozen=True, eq=False)
class ImpairmentCurves:
    """Metrics of a cluster's impairment over a range of intensities.

    values / baseline: ``(len(METRICS), n_topics, n_intensities)``, means over
    prompts and seeds (baseline: over random clusters; None if not measured).
    clean: ``(len(METRICS), n_topics)``, the unimpaired model.
    """

    cluster: str
    target: str | None
    mode: str
    site: str
    topics: tuple[str, ...]
    intensities: np.ndarray
    values: np.ndarray
    clean: np.ndarray
    baseline: np.ndarray | None = None
    n_prompts: tuple[int, ...] = ()

    def curve(self, metric: str, topic: str, baseline: bool = False) -> np.ndarray:
        """``(n_intensities,)`` one topic's line."""
        return self._values(baseline)[metric_index(metric), self._topic(topic)]

    def drop(self, metric: str, baseline: bool = False) -> np.ndarray:
        """``(n_topics, n_intensities)`` how much worse than clean each topic got (positive = impaired)."""
        i = metric_index(metric)
        return WORSE[i] * (self._values(baseline)[i] - self.clean[i][:, None])

    def specificity(self, metric: str = "accuracy", baseline: bool = False) -> np.ndarray:
        """``(n_intensities,)`` the target topic's drop minus the mean drop of the other topics."""
        if self.target is None or self.target not in self.topics:
            raise ClusterError(f"cluster {self.cluster!r} has no target topic among {list(self.topics)}; pass target=")
        if len(self.topics) < 2:
            raise ClusterError("specificity needs prompts of at least two topics")
        drop = self.drop(metric, baseline)
        t = self._topic(self.target)
        return drop[t] - np.delete(drop, t, axis=0).mean(axis=0)

    def _values(self, baseline: bool) -> np.ndarray:
        if not baseline:
            return self.values
        if self.baseline is None:
            raise ClusterError("these curves have no random baseline; compute them with baseline_seeds")
        return self.baseline

    def _topic(self, topic: str) -> int:
        if topic not in self.topics:
            raise ClusterError(f"no prompts of topic {topic!r}; the curves have {list(self.topics)}")
        return self.topics.index(topic)


def impairment_curves(
    engine: Engine,
    cluster: Cluster,
    prompts: Sequence[KeywordPrompt] | EvalSet,
    mode: str,
    intensities: Sequence[float],
    *,
    split: str | None = "heldout",
    seeds: Sequence[int] = (0,),
    baseline_seeds: Sequence[int] = (0, 1, 2),
    samples: int = 1,
    positions: Positions = "all",
    target: str | None = None,
    progress: Progress | None = None,
) -> ImpairmentCurves:
    """Impair ``cluster`` with ``mode`` at each intensity and score the ``split`` keyword prompts.

    Noise modes average over ``seeds`` (and ``samples`` draws per run); the
    baseline averages random clusters with the cluster's per-layer counts, one per
    baseline seed. ``progress(done, total)`` is called after each (cluster, seed, intensity).
    """
    check_cluster(cluster, engine.spec)
    evalset = prompts if isinstance(prompts, EvalSet) else make_eval_set(engine, prompts, split)
    seeds = tuple(seeds) if mode in NOISY_MODES else tuple(seeds)[:1]
    if not seeds or not len(intensities):
        raise ClusterError("give at least one seed and one intensity")
    means = unit_means(engine, evalset.prompts, cluster.site) if mode == "mean" else None
    width = site_width(engine.spec, cluster.site)
    randoms = [random_cluster(cluster, width, b) for b in baseline_seeds]
    jobs = [(cluster, s) for s in seeds] + [(r, b) for r, b in zip(randoms, baseline_seeds)]
    tick = _ticker(progress, len(jobs) * len(intensities))
    grids = [_grid(engine, evalset, c, mode, intensities, s, samples, positions, means, tick) for c, s in jobs]
    return ImpairmentCurves(
        cluster=cluster.name, target=target or cluster.topic, mode=mode, site=cluster.site,
        topics=evalset.topics, intensities=np.asarray(intensities, dtype=np.float64),
        values=np.mean(grids[: len(seeds)], axis=0), clean=score(engine, evalset),
        baseline=np.mean(grids[len(seeds):], axis=0) if randoms else None,
        n_prompts=tuple(int(n) for n in evalset.counts()),
    )


def _grid(engine: Engine, evalset, cluster, mode, intensities, seed, samples, positions, means, tick) -> np.ndarray:
    """``(len(METRICS), n_topics, n_intensities)`` for one cluster and seed, every intensity in one batch."""
    runs = [impairs(cluster, mode, x, seed=seed, positions=positions, means=means) for x in intensities]
    out = np.moveaxis(score_batch(engine, evalset, runs, samples=samples), 0, -1)
    for _ in intensities:
        tick()
    return out


def _ticker(progress: Progress | None, total: int) -> Callable[[], None]:
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    return tick


def curves_from_rows(rows: list[dict[str, str]], mode: str, target: str | None = None) -> ImpairmentCurves:
    """The curves of one ``mode`` of a sweep CSV; cluster rows and random rows are each averaged over seeds."""
    rows = [r for r in rows if r["mode"] == mode]
    if not rows:
        raise ClusterError(f"the sweep has no rows for mode {mode!r}")
    topics = tuple(dict.fromkeys(r["topic"] for r in rows))
    xs = tuple(sorted({round(float(r["intensity"]), 9) for r in rows}))
    grids = {kind: _mean_grid(rows, kind, topics, xs) for kind in ("cluster", "random")}
    clean = np.zeros((len(METRICS), len(topics)))
    for r in rows:
        clean[:3, topics.index(r["topic"])] = [float(r[c]) for c in CLEAN_COLUMNS]
    n_prompts = {r["topic"]: int(r["n_prompts"]) for r in rows}
    first = rows[0]
    return ImpairmentCurves(
        cluster=first["cluster"], target=target, mode=mode, site=first["site"], topics=topics,
        intensities=np.array(xs), values=grids["cluster"], clean=clean, baseline=grids["random"],
        n_prompts=tuple(n_prompts[t] for t in topics),
    )


def _mean_grid(rows: list[dict[str, str]], kind: str, topics: tuple[str, ...], xs: tuple[float, ...]) -> np.ndarray | None:
    """``(len(METRICS), n_topics, n_intensities)`` mean over seeds; NaN where a point is missing."""
    total = np.zeros((len(METRICS), len(topics), len(xs)))
    count = np.zeros((len(topics), len(xs)))
    for r in rows:
        if r["kind"] != kind:
            continue
        t, j = topics.index(r["topic"]), xs.index(round(float(r["intensity"]), 9))
        total[:, t, j] += [float(r[m]) for m in METRICS]
        count[t, j] += 1
    if not count.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def specificity_interval(drop: np.ndarray, topic_index: np.ndarray, groups: Sequence[str], topic: int,
                         draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of ``topic``'s specificity (its mean ``drop`` minus the other topics' mean).

    drop: ``(n_prompts,)`` each prompt's metric drop; topic_index: ``(n_prompts,)`` its topic. Each topic's
    ``groups`` (one entity's prompts, or one comment phrase's) are resampled, not its prompts: the prompts
    of one group are not independent evidence, and a topic with few groups gets the wide interval it has.
    """
    drop, topic_index, groups = np.asarray(drop, dtype=float), np.asarray(topic_index), np.asarray(groups)
    if not drop.shape == topic_index.shape == groups.shape:
        raise ClusterError(f"give one drop, topic and group per prompt; got {drop.shape}, {topic_index.shape}, "
                           f"{groups.shape}")
    topics = np.unique(topic_index)
    if topic not in topics or len(topics) < 2:
        raise ClusterError(f"specificity needs prompts of topic {topic} and of at least one other topic")
    rng = np.random.default_rng(seed)
    means = {}
    for t in topics:
        mine = topic_index == t
        keys = np.unique(groups[mine])
        sums = np.array([drop[mine & (groups == k)].sum() for k in keys])
        sizes = np.array([np.sum(mine & (groups == k)) for k in keys])
        pick = rng.integers(0, len(keys), size=(draws, len(keys)))
        means[t] = sums[pick].sum(axis=1) / sizes[pick].sum(axis=1)
    spec = means[topic] - np.mean([means[t] for t in topics if t != topic], axis=0)
    return float(np.percentile(spec, 2.5)), float(np.percentile(spec, 97.5))
