"""Sweep output files: a locked output folder and CSV rows that survive a crash and resume cleanly."""

from sweepio.errors import OutputFolderError, OutputLockedError, RowFileError
from sweepio.lock import OutputLock
from sweepio.rows import RowAppender, StoredRows, read_rows, rewrite_rows

__all__ = ["OutputFolderError", "OutputLock", "OutputLockedError", "RowAppender", "RowFileError", "StoredRows",
           "read_rows", "rewrite_rows"]
