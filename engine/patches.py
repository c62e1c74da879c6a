"""Activation patching as an intervention value: put another run's activations into this run.

A :class:`Patch` replaces one site's activation at some positions with given
values (usually the same site of another prompt's clean run). It compiles to
a :class:`~engine.hooked.Hook` like every other intervention, so it runs
through the same hooks, prefix cache and batching (``Engine.run_batch``).

Sites:
    resid_pre: the residual stream entering block ``layer`` (``d_model`` wide).
    head:      head ``head``'s result ``z`` in block ``layer`` (``d_head`` wide). A head's write
               is ``z @ W_O[head]``, linear in ``z``, so patching ``z`` patches the head's output.
    mlp_out:   the MLP output of block ``layer`` (``d_model`` wide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from engine.checks import check_head, check_layer
from engine.errors import InterventionError, OutOfRangeError
from engine.hooked import Hook
from engine.interventions import Intervention
from engine.spec import ModelSpec

PatchSite = Literal["resid_pre", "head", "mlp_out"]
PATCH_SITES: tuple[str, ...] = ("resid_pre", "head", "mlp_out")


@dataclass(frozen=True)
class Patch(Intervention):
    """Replace ``site`` of block ``layer`` at ``positions`` by ``values`` for one run.

    ``values`` holds ``(len(positions), width)`` float32 in row-major bytes (hashable, a cache key);
    build one with :meth:`from_tensor`. ``head`` is needed for the ``head`` site only.
    """

    layer: int
    site: PatchSite
    positions: tuple[int, ...]
    values: bytes = field(repr=False)
    head: int | None = None

    @staticmethod
    def from_tensor(layer: int, site: PatchSite, positions: tuple[int, ...], values,
                    head: int | None = None) -> "Patch":
        """From ``values`` ``(len(positions), width)`` (a tensor or an array)."""
        if hasattr(values, "detach"):
            values = values.detach().to("cpu", torch.float32).numpy()
        array = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
        return Patch(layer=int(layer), site=site, positions=tuple(int(p) for p in positions),
                     values=array.tobytes(), head=None if head is None else int(head))

    def check(self, spec: ModelSpec) -> None:
        """The layer, the site and (for the head site) the head."""
        check_layer(self.layer, spec.n_layers, self)
        self._width(spec)

    def _width(self, spec: ModelSpec) -> int:
        """The patched activation's width, after checking the site and head."""
        if self.site not in PATCH_SITES:
            raise InterventionError(f"unknown patch site {self.site!r}; choose one of {', '.join(PATCH_SITES)}")
        if self.site != "head":
            return spec.d_model
        check_head(self.head, spec.n_heads)
        return spec.d_head

    def _positions(self, n_pos: int) -> tuple[int, ...]:
        """The patch's positions, checked: each in the prompt, none twice, in increasing order."""
        for p in self.positions:
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < n_pos:
                raise OutOfRangeError(f"position {p!r} does not exist; this prompt has positions 0-{n_pos - 1}")
        if list(self.positions) != sorted(set(self.positions)):
            raise InterventionError("a patch's positions must be increasing, each listed once")
        return self.positions

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        """This patch checked against the model and a prompt of ``n_pos`` tokens (and its values' size)."""
        self.check(spec)
        width, positions = self._width(spec), self._positions(n_pos)
        if len(self.values) != 4 * len(positions) * width:
            raise InterventionError(
                f"a {self.site} patch of {len(positions)} positions needs ({len(positions)}, {width}) "
                f"float32 values; got {len(self.values) // 4}")
        return PatchHook(self, positions, width, n_pos, spec.n_heads)


class PatchHook(Hook):
    """Patch: set the site's rows at ``positions`` to the given values."""

    def __init__(self, patch: Patch, positions: tuple[int, ...], width: int, n_pos: int, n_heads: int) -> None:
        target, pre = {"resid_pre": ("blocks", True), "head": ("attn_o", True),
                       "mlp_out": ("mlp", False)}[patch.site]
        super().__init__(patch, patch.layer, target, pre, positions, n_pos)
        values = np.frombuffer(patch.values, dtype=np.float32).reshape(len(positions), width)
        self.values = torch.from_numpy(values.copy())
        self.head = patch.head
        self.n_heads = n_heads
        self.in_mlp = patch.site == "mlp_out"
        # The prefix cache's last-block shortcut runs that block's attention without calling the
        # block, so a block input hook would be skipped there: a resid_pre patch runs blocks whole.
        self.whole_prompt = patch.site == "resid_pre"

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(batch, q, width)`` (for a head, ``(batch, q, n_heads * d_head)``) with the patched rows set."""
        found = self.rows(q0, q1)
        if found is None:
            return x
        rows, picked = found
        x = x.clone()
        if self.head is None:
            x[:, rows] = self.values[picked].to(x.dtype)
            return x
        z = x.unflatten(-1, (self.n_heads, -1))
        z[:, rows, self.head] = self.values[picked].to(x.dtype)
        return z.flatten(-2)
