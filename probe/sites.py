"""Where a probe reads: the residual stream after a block (or the embeddings) or an MLP's output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from probe.errors import ProbeError

SiteKind = Literal["resid", "mlp_out"]
SITE_KINDS: tuple[str, ...] = ("resid", "mlp_out")
EMBED = -1  # resid at layer -1: the embeddings (resid_pre of block 0)


@dataclass(frozen=True, order=True)
class Site:
    """``resid`` at ``layer``: resid_post of that block (layer -1: the embeddings); ``mlp_out``: that MLP's output."""

    kind: str
    layer: int

    @property
    def label(self) -> str:
        """e.g. "resid 2", "resid embed", "mlp_out 0"."""
        return f"{self.kind} {'embed' if self.layer == EMBED else self.layer}"


def all_sites(n_layers: int) -> list[Site]:
    """Every site of a model with ``n_layers`` blocks: resid embed, 0..n-1, then mlp_out 0..n-1."""
    return [Site("resid", layer) for layer in range(EMBED, n_layers)] + [Site("mlp_out", layer) for layer in range(n_layers)]


def check_site(kind: str, layer: int, n_layers: int) -> Site:
    """``Site(kind, layer)``; ProbeError naming the range for a layer the model lacks or an unknown kind."""
    if kind not in SITE_KINDS:
        raise ProbeError(f"unknown site {kind!r}; choose from {', '.join(SITE_KINDS)}")
    lo = EMBED if kind == "resid" else 0
    if not lo <= layer < n_layers:
        raise ProbeError(f"layer {layer} does not exist for {kind}; this model has layers {lo}-{n_layers - 1}"
                         + (" (-1: the embeddings)" if kind == "resid" else ""))
    return Site(kind, layer)
