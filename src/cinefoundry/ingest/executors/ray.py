"""The Ray executor: the same `process_media` on Ray Data, one file per task (local Ray by default)."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator

from cinefoundry.ingest.pipeline import MediaResult, MediaTask, process_media


class RayExecutor:
    """Runs tasks as a Ray Data map over one row per file; `address` joins an existing cluster."""

    def __init__(self, workers: int, address: str | None = None):
        self.workers = max(1, workers)
        self.address = address

    def run(self, tasks: list[MediaTask]) -> Iterator[MediaResult]:
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError("the ray executor needs Ray: pip install 'cinefoundry[ray]'") from exc
        if not tasks:
            return
        started_here = not ray.is_initialized()
        if started_here:
            options = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(**options, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the CLI shows its own progress, on stderr
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        try:
            rows = [{"task": pickle.dumps(t)} for t in sorted(tasks, key=lambda t: -t.size_hint)]
            data = ray.data.from_items(rows, override_num_blocks=len(rows))
            done = data.map(_process_row, num_cpus=1, concurrency=self.workers)
            for row in done.iter_rows():
                yield pickle.loads(row["result"])
        finally:
            if started_here:
                ray.shutdown()


def _process_row(row: dict) -> dict:
    return {"result": pickle.dumps(process_media(pickle.loads(row["task"])))}
