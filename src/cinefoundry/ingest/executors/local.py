"""The local executor: one media file per worker process (decoding is single-file sequential work)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool

from cinefoundry.core.pool import process_pool
from cinefoundry.ingest.pipeline import MediaResult, MediaTask, process_media


class LocalExecutor:
    """Runs tasks in `workers` processes (in this process when 1), largest files first."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def run(self, tasks: list[MediaTask]) -> Iterator[MediaResult]:
        """Start the workers now (not on first iteration) and return the results as they finish.

        The pool forks its workers when this is called, before the caller starts a progress display or
        commits to Lance: both run threads that a fork must not copy mid-operation.
        """
        if self.workers == 1 or len(tasks) <= 1:
            return (process_media(task) for task in tasks)
        pool = process_pool(min(self.workers, len(tasks)))
        futures = {pool.submit(process_media, t): t for t in sorted(tasks, key=lambda t: -t.size_hint)}
        return _collect(pool, futures)


def _collect(pool, futures: dict) -> Iterator[MediaResult]:
    crashed = []
    with pool:
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                crashed.append(futures[future])
    for task in crashed:  # a worker died (a decoder crash): retry each file alone, in a clean process
        yield _isolated(task)


def _isolated(task: MediaTask) -> MediaResult:
    try:
        with process_pool(1, fork=False) as pool:
            return pool.submit(process_media, task).result()
    except BrokenProcessPool:
        return MediaResult(task.media_file_id, task.media_sha256, task.config.processing_hash(),
                           error="the worker crashed while decoding this file")  # fmt: skip
