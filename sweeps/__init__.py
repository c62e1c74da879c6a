"""One sweep machinery: the resumable job, its output files, and who computes the cells (here, or on Ray).

    job.py         run_job: identity check, lock, keep complete rows, fixed chunks, append, progress
    runners.py     LocalRunner (this process, a batch per chunk); an EnginePool is the Ray runner
    chunks.py      fixed chunks of a grid (a cell's batch depends on the grid alone)
    identity.py    the identity file: what changes a number, checked before any work
    lock.py rows.py   a locked output folder, CSV rows flushed one by one and read back without a torn line
    ray_pool.py ray_worker.py ray_args.py   Ray: one actor per worker holds the engine; --ray flags

A sweep describes its grid and its cell (``sweeps.job.Sweep``) and calls ``run_job``; see
``cluster.sweep``, ``memory.sweep`` and ``edit.sweep``.
"""

from sweeps.errors import OutputFolderError, OutputLockedError, RaySweepError, RowFileError
from sweeps.job import Identity, JobResult, Sweep, SweepFiles, run_job
from sweeps.lock import OutputLock
from sweeps.ray_pool import EnginePool, ModelRef, RaySettings
from sweeps.rows import RowAppender, StoredRows, read_rows, rewrite_rows
from sweeps.runners import LocalRunner, Runner

__all__ = ["EnginePool", "Identity", "JobResult", "LocalRunner", "ModelRef", "OutputFolderError", "OutputLock",
           "OutputLockedError", "RaySettings", "RaySweepError", "RowAppender", "RowFileError", "Runner",
           "StoredRows", "Sweep", "SweepFiles", "read_rows", "rewrite_rows", "run_job"]
