"""The Ray actor: one per worker, holding one Engine for every task it runs."""

from __future__ import annotations

import os
from typing import Any, Callable

import torch

from engine import Engine


class EngineWorker:
    """Loads the model once (on its device, in its dtype) and runs tasks ``fn(engine, item, *args)`` with it."""

    def __init__(self, model: str, device: str, dtype: str, threads: int) -> None:
        torch.set_num_threads(threads)
        self.engine = Engine.load(model, device=device, dtype=dtype)

    def ready(self) -> str:
        """The loaded model's fingerprint (the driver checks it is the model it loaded too)."""
        return self.engine.spec.fingerprint

    def pid(self) -> int:
        """This worker's process id."""
        return os.getpid()

    def call(self, fn: Callable[..., Any], item: Any, *args: Any) -> Any:
        """``fn(engine, item, *args)``; ``fn`` is a module-level function, sent by reference."""
        return fn(self.engine, item, *args)
