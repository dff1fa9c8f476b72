"""Process-wide memory settings for the pipeline's commands."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_THP_DISABLE = 41


def small_pages_only() -> bool:
    """Ask Linux for 4 KiB pages only in this process (and its children); False where it cannot.

    With transparent huge pages set to ``always``, the first touch of fresh memory clears 2 MiB at
    a time. A micro-batch allocates and frees hundreds of MiB of Arrow, DuckDB and Parquet buffers,
    so clearing pages was a visible share of a stream's CPU (bench/RESULTS.md). Nothing here wants
    huge pages: the working set of a batch is freed when the batch ends."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return bool(libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
