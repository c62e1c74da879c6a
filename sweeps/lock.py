"""An OS file lock on an output folder, so two sweeps never write the same rows.

The lock is ``fcntl.flock`` on a small file in the folder: the OS releases it
when the process ends, however it ends, so a lock left by a killed run is never
held. The file keeps the holder's process id, which names the holder in the
refusal and shows a lock left by a process that no longer runs (a stale lock,
taken over with a log line). A run that ends removes its lock file, and the
folders it created if they are still empty, so a refused run leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sweeps.errors import OutputFolderError, OutputLockedError

log = logging.getLogger(__name__)
LOCK_SUFFIX = ".lock"
LOCK_NAME = ".lenslab" + LOCK_SUFFIX


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing, probe = [], Path(folder)
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) while it is empty; a folder something was written to stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def make_folder(folder: Path) -> Path:
    """Create ``folder`` (and parents); :class:`OutputFolderError` if a file is in the way or it is not writable."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputFolderError(f"{folder} is a file, not a folder; choose another --out folder") from None
    except OSError as err:
        raise OutputFolderError(f"cannot create {folder} ({err.strerror}); choose another --out folder") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputFolderError(f"cannot write to {folder} (permission denied); choose another --out folder")
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """``with OutputLock(folder):`` holds ``folder``'s lock or raises :class:`OutputLockedError` at once."""

    def __init__(self, folder: Path, name: str = LOCK_NAME) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self.stale_pid: int | None = None
        self._fd: int | None = None
        self._created: list[Path] = []

    @classmethod
    def beside(cls, path: Path) -> "OutputLock":
        """The lock of one output file or folder: a hidden file next to ``path``, so that ``path`` can be
        replaced whole while the lock is held."""
        path = Path(path)
        return cls(path.parent, f".{path.name}{LOCK_SUFFIX}")

    def _holder(self, fd: int) -> int | None:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        return int(text) if text.isdigit() else None

    def _open_locked(self) -> int:
        """A descriptor of the lock file, locked; retried when the holder removed the file meanwhile."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise OutputFolderError(f"cannot create the lock file {self.path} ({err.strerror}); "
                                        "choose another --out folder") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                who = f"process {holder}" if holder else "another process"
                raise OutputLockedError(f"{self.folder} is being written by another run ({who}); wait for it to "
                                        "finish, or choose another --out folder") from None
            # The previous holder unlinks the file before it unlocks: a lock on an unlinked file is no lock.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def __enter__(self) -> "OutputLock":
        self._created = missing_folders(self.folder)
        make_folder(self.folder)
        try:
            fd = self._open_locked()
        except BaseException:
            remove_empty(self._created)
            raise
        previous = self._holder(fd)
        if previous is not None and previous != os.getpid() and not _alive(previous):
            self.stale_pid = previous
            log.warning("%s: took over a stale lock left by process %d, which no longer runs", self.folder, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            # Unlinked while still locked: a process that opened it meanwhile sees the inode change and retries.
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None
            remove_empty(self._created)
