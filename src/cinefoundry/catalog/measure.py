"""Hash and measure the files of an import, in parallel: sha256 for every file, PyAV probe for new media."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import fsspec
import pysubs2

from cinefoundry.catalog.probe import open_source, probe_media
from cinefoundry.core.errors import CinefoundryError, MediaError
from cinefoundry.core.pool import process_pool
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.core.store import sha256_file


@dataclass(frozen=True)
class Job:
    """One file to measure. Media whose sha256 is in `known` are already recorded and are not decoded again."""

    uri: str
    kind: str  # "media" or "subtitle"
    known: frozenset[str] = frozenset()
    mode: str = "full"


@dataclass
class Measured:
    """What measuring a file found; `error` is set instead when it could not be measured."""

    uri: str
    sha256: str | None = None
    size: int | None = None
    probe: dict[str, Any] | None = None
    cues: int | None = None
    format: str | None = None
    error: str | None = None


def measure_all(jobs: list[Job], workers: int = 1, reporter: Reporter = SILENT) -> dict[str, Measured]:
    """Measure every job, one file per process when `workers` > 1; results keyed by URI."""
    if workers <= 1 or len(jobs) <= 1:
        return _measure_here(jobs, reporter)
    results: dict[str, Measured] = {}
    crashed: list[Job] = []
    # The pool is made and fed before the progress display starts its thread, so workers can be forked.
    with _pool(min(workers, len(jobs))) as pool:
        # Largest files first: the pool does not end waiting on one long decode started last.
        futures = {pool.submit(measure, job): job for job in sorted(jobs, key=_size, reverse=True)}
        reporter.begin("measuring media", len(jobs))
        try:
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    results[job.uri] = fut.result()
                    reporter.step(os.path.basename(job.uri))
                except BrokenProcessPool:
                    crashed.append(job)
        except BaseException:
            reporter.end()
            raise
    # A worker died (a decoder crash takes its whole pool down): once that pool is gone, retry each file
    # alone, so only the file that crashes fails, and the crash never reaches this process.
    try:
        for job in crashed:
            results[job.uri] = _measure_isolated(job)
            reporter.step(os.path.basename(job.uri))
    finally:
        reporter.end()
    return results


def _measure_here(jobs: list[Job], reporter: Reporter) -> dict[str, Measured]:
    results = {}
    reporter.begin("measuring media", len(jobs))
    try:
        for job in jobs:
            results[job.uri] = measure(job)
            reporter.step(os.path.basename(job.uri))
    finally:
        reporter.end()
    return results


def _pool(workers: int) -> ProcessPoolExecutor:
    return process_pool(workers, preload=[__name__])


def _size(job: Job) -> int:
    try:
        return os.path.getsize(job.uri) if "://" not in job.uri else 0
    except OSError:
        return 0


def _measure_isolated(job: Job) -> Measured:
    try:
        with _pool(1) as pool:
            return pool.submit(measure, job).result()
    except BrokenProcessPool:
        return Measured(job.uri, error="the decoder crashed while reading this file")


def measure(job: Job) -> Measured:
    """Hash a file and, for media not yet recorded, decode it; errors are returned, not raised."""
    try:
        with open_source(job.uri):
            pass  # names missing, empty and folder paths before hashing
        sha, size = sha256_file(job.uri)
        if job.kind == "subtitle":
            cues, fmt = _read_subtitles(job.uri)
            return Measured(job.uri, sha, size, cues=cues, format=fmt)
        probe = None if sha in job.known else probe_media(job.uri, job.mode).as_dict()
        return Measured(job.uri, sha, size, probe=probe)
    except CinefoundryError as exc:
        return Measured(job.uri, error=getattr(exc, "problem", str(exc)))
    except OSError as exc:
        return Measured(job.uri, error=f"cannot be read: {exc.strerror or exc}")


def _read_subtitles(uri: str) -> tuple[int, str]:
    with fsspec.open(uri, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MediaError(uri, "subtitles are not UTF-8 text") from exc
    try:
        subs = pysubs2.SSAFile.from_string(text)
    except Exception as exc:  # pysubs2 raises several types for unreadable input
        raise MediaError(uri, f"not a subtitle file pysubs2 can read: {exc}") from exc
    if len(subs) == 0:
        raise MediaError(uri, "subtitle file has no cues")
    return len(subs), subs.format or os.path.splitext(uri)[1].lstrip(".").lower()
