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
        if self.workers == 1 or len(tasks) <= 1:
            for task in tasks:
                yield process_media(task)
            return
        crashed = []
        # Every task is submitted before the first result is handed back: the workers are forked before
        # the caller starts committing (Lance runs native threads that a fork must not copy mid-operation).
        with process_pool(min(self.workers, len(tasks))) as pool:
            futures = {pool.submit(process_media, t): t for t in sorted(tasks, key=lambda t: -t.size_hint)}
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
