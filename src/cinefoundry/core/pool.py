"""Worker processes for per-file work (measuring, ingest): one file per process."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

# Native libraries whose runtimes must not be copied by a fork once loaded (Lance runs a tokio runtime).
FORK_UNSAFE_MODULES = ("lance",)


def process_pool(workers: int, preload: list[str] | None = None, fork: bool = True) -> ProcessPoolExecutor:
    """Forked workers when this process runs a single Python thread (instant), else from a fork server.

    Forking a process that runs other threads can copy a lock held mid-operation; the fork server starts
    workers clean instead, at the price of re-importing the program in each (about a second). A forking
    pool starts all its workers at the first submit: submit before starting threads (progress displays).
    Native runtimes Python cannot see (Lance) also rule out forking once loaded; `fork=False` forces the
    fork server.
    """
    native = any(name in sys.modules for name in FORK_UNSAFE_MODULES)
    if fork and not native and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    ctx = multiprocessing.get_context("forkserver")
    if preload:
        ctx.set_forkserver_preload(preload)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
