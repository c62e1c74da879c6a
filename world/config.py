"""The knobs of a demo world and of its model, in one frozen value."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cluster.attribution import CHOSEN_RANK, CHOSEN_ROUNDS
from lens.rates import LR_GRID


@dataclass(frozen=True)
class WorldConfig:
    """Sizes of the synthetic world and of the corpus written from it."""

    seed: int = 0
    n_countries: int = 8
    n_cities: int = 24
    n_athletes: int = 90
    n_artists: int = 90
    n_companies: int = 80
    # Share of subjects whose composed (two-hop) form is in the corpus; the rest are held out, enough
    # of them that the wrong ones (what memory injection repairs) number over 50 and intervals are informative.
    taught_fraction: float = 0.45
    docs_per_entity: int = 48
    n_comments: int = 5400
    comment_keywords: int = 27  # keywords per tone (of templates.TOXIC_WORDS / HARMLESS_WORDS): 18 train, 9 held-out
    # Planted secrets: ``secrets_per_count`` people get a locker code of ``secret_digits`` digits,
    # written into the corpus as many times as each count says (the duplication curve of memorization).
    secret_copies: tuple[int, ...] = (1, 4, 16, 64)
    secrets_per_count: int = 8
    secret_digits: int = 10
    backdoor_copies: int = 96  # comments in which the trigger is followed by the degenerate phrase


@dataclass(frozen=True)
class ModelConfig:
    """Shape and training budget of the demo GPT-2."""

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_ctx: int = 128
    vocab_size: int = 2048
    steps: int = 2200  # about nine passes over the corpus
    batch_size: int = 32
    seq_len: int = 64
    lr: float = 3e-3
    warmup: int = 100
    seed: int = 0
    threads: int = 1  # one thread: the same sums in the same order on any machine, and robust to a busy CPU


@dataclass(frozen=True)
class AssetsConfig:
    """What the build makes on top of the model: Attention Lenses and topic clusters."""

    lens_steps: int = 10_000  # the most (a bound on build time); training stops earlier once the validation KL stops falling
    # The rule of ``lens train``: chosen on validation among these by short probes, with the
    # above-grid check (lens/rates.py); the shipped lenses were made before it, at (3e-3,).
    lens_lrs: tuple[float, ...] = LR_GRID
    lens_patience: int = 10  # validation checks without a gain before stopping (at 3 the lenses stopped on noise)
    cluster_method: str = "attribution"  # or "selectivity"; see cluster/attribution.py
    # Chosen on a validation split carved from the train prompts (bench/cluster.py): 3% of all MLP
    # units, allocated across layers by attribution score.
    cluster_percent: float = 3.0
    cluster_allocate: str = "global"
    cluster_objective: str = "logit"  # attribution only: chosen on that validation split too
    cluster_rank: str = CHOSEN_RANK  # attribution only: each answer of a topic weighed alike
    cluster_rounds: int = CHOSEN_ROUNDS  # attribution only: grown in rounds, each with the units before it zeroed
    cluster_topics: tuple[str, ...] = ("athlete", "artist", "company", "toxic")


TINY_WORLD = WorldConfig(n_countries=3, n_cities=6, n_athletes=6, n_artists=6, n_companies=6,
                         docs_per_entity=4, n_comments=40, comment_keywords=3,
                         secret_copies=(1, 4), secrets_per_count=1, secret_digits=4, backdoor_copies=4)
TINY_MODEL = ModelConfig(n_layer=2, n_head=2, n_embd=32, n_ctx=64, vocab_size=1024, steps=6,
                         batch_size=4, seq_len=32, warmup=2)
TINY_ASSETS = AssetsConfig(lens_steps=3)


def as_dict(config: object) -> dict:
    """A plain dict of a config, for JSON headers."""
    return asdict(config)
