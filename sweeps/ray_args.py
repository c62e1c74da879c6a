"""``--ray``, ``--ray-address``, ``--ray-workers`` and ``--ray-cpus`` for the sweep commands, and the runner they name."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cli.args import positive, whole
from sweeps.ray_pool import ModelRef, RaySettings
from sweeps.runners import LocalRunner, Runner


def add_ray_args(parser: argparse.ArgumentParser) -> None:
    """Add the Ray options to a sweep command's parser."""
    parser.add_argument("--ray", action="store_true",
                        help="fan the sweep out over Ray workers (a local cluster unless --ray-address)")
    parser.add_argument("--ray-address", default=None,
                        help="an existing Ray cluster: auto, or ray://HOST:10001 (implies --ray)")
    parser.add_argument("--ray-workers", type=whole(1, 4096, 2), default=2, help="Ray workers, one model each")
    parser.add_argument("--ray-cpus", type=positive(1024, 1), default=1.0, help="CPUs per Ray worker")


def wants_ray(args: argparse.Namespace) -> bool:
    """Whether the command should run on Ray."""
    return bool(args.ray or args.ray_address)


def ray_settings(args: argparse.Namespace) -> RaySettings:
    """The RaySettings the options name (worker threads follow --threads, default 1)."""
    threads = getattr(args, "threads", None) or 1
    return RaySettings(address=args.ray_address, workers=args.ray_workers, cpus=args.ray_cpus, threads=threads)


def model_ref(args: argparse.Namespace, engine) -> ModelRef:
    """What every worker loads: the driver's model (a folder as an absolute path, since workers run
    elsewhere), on the device and in the dtype the driver's engine uses."""
    model = Path(args.model).expanduser()
    return ModelRef(model=str(model.resolve()) if model.exists() else args.model, device=engine.spec.device,
                    dtype=engine.spec.dtype)


def engine_pool(args: argparse.Namespace, engine):
    """The EnginePool the options ask for, holding ``engine``'s model (checked by fingerprint); a context manager."""
    from sweeps.ray_pool import EnginePool

    pool = EnginePool(ray_settings(args), model_ref(args, engine))
    try:
        pool.check_model(engine)
    except Exception:
        pool.close()
        raise
    return pool


@contextmanager
def sweep_runner(args: argparse.Namespace, engine) -> Iterator[Runner]:
    """The runner a sweep command's options name: Ray workers with ``--ray`` / ``--ray-address`` (shut down
    when the block ends), else this process (one batch per chunk, ``--threads`` torch threads)."""
    if not wants_ray(args):
        yield LocalRunner(engine)
        return
    with engine_pool(args, engine) as pool:
        yield pool
