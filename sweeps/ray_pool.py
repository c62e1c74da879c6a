"""A pool of Ray actors, one per worker, each holding one Engine loaded once.

The driver hands out small tasks (a chunk of sweep points, a chunk of one case's
cells) and gets the results back as they finish; it alone writes rows. When a worker
process dies mid-task, its task goes back in the queue and a surviving worker runs it
(Ray restarts the dead actor, which loads the model again; an actor that keeps dying is
dropped): no task is lost, and since the driver keys every row, none is written twice.
Before any actor is made, the cluster's CPUs and GPUs are checked against what the
workers ask for, so a cluster too small is one clear error rather than a wait forever.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from sweeps.errors import RaySweepError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
# Each task may be retried this often after its worker died before the sweep gives up.
MAX_TRIES = 4
# A worker whose tasks fail this many times in a row (its node is gone) gets no more tasks.
MAX_STRIKES = 2


@dataclass(frozen=True)
class RaySettings:
    """Where to run: ``address`` None starts a local Ray cluster for the run, else "auto" or "ray://HOST:PORT".

    ``workers`` actors, each with ``cpus`` CPUs and ``threads`` torch threads; a model on CUDA gets one GPU each.
    """

    address: str | None = None
    workers: int = 2
    cpus: float = 1.0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1 or self.cpus <= 0 or self.threads < 1:
            raise RaySweepError(f"--ray-workers, CPUs and threads must be positive, got {self.workers}, "
                                f"{self.cpus}, {self.threads}")


@dataclass(frozen=True)
class ModelRef:
    """What a worker loads: the model (folder or cached name), its device and dtype."""

    model: str
    device: str = "cpu"
    dtype: str = "float32"

    @property
    def gpus(self) -> int:
        """GPUs each worker asks Ray for: one when the model runs on CUDA."""
        return 1 if self.device.startswith("cuda") else 0


def _ray():
    try:
        import ray
    except ImportError as err:  # pragma: no cover - ray is in requirements.txt
        raise RaySweepError("Ray is not installed; run ./run.sh's setup or pip install -r requirements.txt") from err
    return ray


def start_ray(settings: RaySettings) -> bool:
    """Connect to ``settings.address`` or start a fresh local cluster; True when this call started it.

    Without an address the cluster is always a new one for this run (``address="local"``), never a
    ``ray start`` cluster that happens to run on the machine.
    """
    ray = _ray()
    if ray.is_initialized():
        return False
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": str(settings.threads),
           "TOKENIZERS_PARALLELISM": "false"}
    try:
        if settings.address is None:
            ray.init(address="local", num_cpus=max(1, math.ceil(settings.workers * settings.cpus)),
                     include_dashboard=False,
                     runtime_env={"env_vars": env}, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=settings.address, runtime_env={"env_vars": env}, log_to_driver=False,
                     logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = settings.address or "a local cluster"
        raise RaySweepError(f"could not start or reach Ray at {where}: {err}; check --ray-address "
                            "(auto for the cluster this machine belongs to, or ray://HOST:10001)") from err
    return True


def check_resources(ray, settings: RaySettings, ref: ModelRef) -> None:
    """RaySweepError unless the cluster has the CPUs and GPUs the workers ask for, free now."""
    total, free = ray.cluster_resources(), ray.available_resources()
    for name, each, flag in (("CPU", settings.cpus, "--ray-cpus"), ("GPU", ref.gpus, "--device")):
        need = settings.workers * each
        if need and free.get(name, 0) + 1e-9 < need:
            raise RaySweepError(f"{settings.workers} Ray workers need {need:g} {name}s but the cluster has "
                                f"{total.get(name, 0):g} ({free.get(name, 0):g} free); lower --ray-workers "
                                f"or {flag}, or add nodes")


class EnginePool:
    """``settings.workers`` actors holding ``ref``'s engine; use as a context manager (it shuts Ray down if it started it)."""

    def __init__(self, settings: RaySettings, ref: ModelRef) -> None:
        self.settings, self.ref = settings, ref
        self._started = start_ray(settings)
        from sweeps.ray_worker import EngineWorker

        ray = _ray()
        try:
            check_resources(ray, settings, ref)
        except RaySweepError:
            self.close()
            raise
        remote = ray.remote(max_restarts=-1, max_task_retries=2)(EngineWorker)
        self.actors = [remote.options(num_cpus=settings.cpus, num_gpus=ref.gpus).remote(
            ref.model, ref.device, ref.dtype, settings.threads) for _ in range(settings.workers)]
        try:
            self.fingerprints = ray.get([a.ready.remote() for a in self.actors])
        except Exception as err:
            self.close()
            raise RaySweepError(f"the Ray workers could not load {ref.model!r}: {err}") from err

    def __enter__(self) -> "EnginePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the actors, and Ray itself when this pool started it."""
        ray = _ray()
        for actor in getattr(self, "actors", []):
            ray.kill(actor)
        self.actors = []
        if self._started:
            ray.shutdown()

    def pids(self) -> list[int]:
        """The process id of each worker (for fault tests and logs)."""
        ray = _ray()
        return ray.get([a.pid.remote() for a in self.actors])

    def check_model(self, engine) -> None:
        """Raise RaySweepError unless every worker loaded ``engine``'s model (same fingerprint)."""
        found = set(self.fingerprints)
        if found != {engine.spec.fingerprint}:
            raise RaySweepError(f"the Ray workers loaded a model with fingerprint(s) {sorted(found)}, not "
                                f"{engine.spec.fingerprint}; every node must see the same --model")

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(engine, item, *args))`` as the workers finish, every item exactly once.

        ``fn`` must be a module-level function (Ray sends it by reference).
        A task whose worker died is resubmitted (up to MAX_TRIES times); other task errors are raised.
        """
        ray = _ray()
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        shared = [ray.put(a) for a in args]
        queue = deque(enumerate(items))
        tries, strikes = [0] * len(items), {}
        idle, running = deque(self.actors), {}
        while queue or running:
            while queue and idle:
                index, item = queue.popleft()
                actor = idle.popleft()
                running[actor.call.remote(fn, item, *shared)] = (index, actor)
            if not running:
                raise RaySweepError("every Ray worker died; check the nodes' logs, then run the same command "
                                    "again to resume")
            done, _ = ray.wait(list(running), num_returns=1)
            index, actor = running.pop(done[0])
            try:
                result = ray.get(done[0])
            except (RayActorError, ActorDiedError, ActorUnavailableError) as err:
                tries[index] += 1
                if tries[index] >= MAX_TRIES:
                    raise RaySweepError(f"a task failed {MAX_TRIES} times because its worker died: {err}") from err
                strikes[actor] = strikes.get(actor, 0) + 1
                log.warning("a worker died (%s); its task goes to another worker", type(err).__name__)
                queue.appendleft((index, items[index]))
                if strikes[actor] < MAX_STRIKES:
                    idle.append(actor)  # behind the survivors: Ray restarts it, and it is tried last
                continue
            strikes[actor] = 0
            idle.append(actor)
            yield items[index], result
