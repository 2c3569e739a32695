"""Executors run `process_media` over many files: one file per worker process locally, or on Ray Data.

This package is the only place that imports Ray; Ray is an optional extra (`pip install cinefoundry[ray]`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from cinefoundry.ingest.pipeline import MediaResult, MediaTask

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs tasks and yields results as they finish (in any order)."""

    def run(self, tasks: list[MediaTask]) -> Iterator[MediaResult]: ...


def make_executor(name: str, workers: int, address: str | None = None) -> Executor:
    """`local` (a process pool) or `ray` (Ray Data; a local Ray unless `address` names a cluster)."""
    if name == "local":
        from cinefoundry.ingest.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if name == "ray":
        from cinefoundry.ingest.executors.ray import RayExecutor

        return RayExecutor(workers, address)
    raise ValueError(f"unknown executor {name!r}: one of {', '.join(EXECUTORS)}")
