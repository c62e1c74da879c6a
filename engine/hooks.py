"""Install a run's hooks for the length of a ``with`` block, and always remove them.

The model is shared by every session, so a hook that outlived its run would
corrupt someone else's result: every handle is removed in ``finally``, also
when the run raises. Intervention hooks are registered before captures, so
captures see the changed values.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch

from engine.adapter import Adapter
from engine.frame import Frame
from engine.hooked import Hook


class Cursor:
    """The frame (rows q0..q1-1) the current block call computes; the run moves it."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame


class Capture:
    """Per-layer activations seen by hooks: attn_out, z, mlp_in, mlp_post, mlp_out (patterns: ``Engine.pattern``).

    Each entry is ``layer -> tensor`` with the batch dimension kept.
    """

    SITES = ("attn_out", "z", "mlp_in", "mlp_post", "mlp_out")

    def __init__(self) -> None:
        self.seen: dict[str, dict[int, torch.Tensor]] = {site: {} for site in self.SITES}


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def _hook_fn(hook: Hook, cursor: Cursor):
    """The torch hook that applies ``hook`` to the rows the current block call computes."""
    if hook.pre:
        def pre_hook(module, args):
            frame = cursor.frame
            return (hook.apply(args[0], frame.q0, frame.q1),) + tuple(args[1:])
        return pre_hook

    def post_hook(module, args, output):
        frame = cursor.frame
        x_in = args[0] if hook.reads_input else None
        if isinstance(output, tuple):
            return (hook.apply(output[0], frame.q0, frame.q1, x_in),) + tuple(output[1:])
        return hook.apply(output, frame.q0, frame.q1, x_in)
    return post_hook


def _register_hooks(adapter: Adapter, hooks: Sequence[Hook], cursor: Cursor, handles: list) -> None:
    for hook in hooks:
        module = getattr(adapter, hook.target)[hook.layer]
        fn = _hook_fn(hook, cursor)
        handles.append(module.register_forward_pre_hook(fn) if hook.pre else module.register_forward_hook(fn))


def _register_capture(adapter: Adapter, capture: Capture, layers: range, handles: list) -> None:
    seen = capture.seen
    for layer in layers:
        def attn_hook(module, args, output, layer=layer):
            seen["attn_out"][layer] = _first(output)

        def pre(site, layer=layer):
            def hook(module, args):
                seen[site][layer] = args[0]
            return hook

        def mlp_hook(module, args, output, layer=layer):
            seen["mlp_out"][layer] = _first(output)

        handles += [
            adapter.attn[layer].register_forward_hook(attn_hook),
            adapter.attn_o[layer].register_forward_pre_hook(pre("z")),
            adapter.mlp[layer].register_forward_pre_hook(pre("mlp_in")),
            adapter.mlp_o[layer].register_forward_pre_hook(pre("mlp_post")),
            adapter.mlp[layer].register_forward_hook(mlp_hook),
        ]


@contextmanager
def installed(adapter: Adapter, hooks: Sequence[Hook], cursor: Cursor,
              capture: Capture | None = None, capture_layers: range | None = None) -> Iterator[None]:
    """``hooks`` (and ``capture`` on ``capture_layers``) installed, removed on exit, even on error."""
    handles: list = []
    try:
        _register_hooks(adapter, hooks, cursor, handles)
        if capture is not None:
            layers = capture_layers if capture_layers is not None else range(adapter.n_layers)
            _register_capture(adapter, capture, layers, handles)
        yield
    finally:
        for handle in handles:
            handle.remove()
