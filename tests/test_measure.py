"""Parallel measuring: results match the in-process path, and a file that crashes its worker fails alone."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from cinefoundry.catalog import measure as measure_mod
from cinefoundry.catalog.measure import Job, measure_all
from cinefoundry.testing.synth import make_video


@pytest.fixture
def clips(tmp_path: Path) -> list[Job]:
    return [Job(str(make_video(tmp_path / f"c{i}.mp4", frames=10 + i)), "media") for i in range(4)]


def test_parallel_and_serial_measuring_agree(clips: list[Job]) -> None:
    serial = measure_all(clips, workers=1)
    parallel = measure_all(clips, workers=2)
    assert serial == parallel
    assert [serial[j.uri].probe["frame_count"] for j in clips] == [10, 11, 12, 13]


def test_known_media_are_hashed_but_not_decoded_again(clips: list[Job]) -> None:
    first = measure_all(clips[:1])[clips[0].uri]
    again = measure_all([Job(clips[0].uri, "media", known=frozenset({first.sha256}))])[clips[0].uri]
    assert again.sha256 == first.sha256 and again.probe is None


# Forced fork with Lance loaded by other tests: the children only probe media and never touch Lance.
@pytest.mark.filterwarnings("ignore:lance is not fork-safe")
def test_a_file_that_kills_its_worker_fails_alone(clips: list[Job], monkeypatch: pytest.MonkeyPatch) -> None:
    """Stands in for a decoder segfault: the worker process dies while probing one file."""
    doomed = clips[2].uri
    real_probe = measure_mod.probe_media

    def crashing_probe(uri: str, mode: str = "full"):
        if uri == doomed:
            os._exit(139)
        return real_probe(uri, mode)

    monkeypatch.setattr(measure_mod, "probe_media", crashing_probe)
    # Forked workers inherit the patched probe (a fork server would start them without it).
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(measure_mod, "_pool", lambda n: ProcessPoolExecutor(max_workers=n, mp_context=fork))
    results = measure_all(clips, workers=2)
    assert results[doomed].error == "the decoder crashed while reading this file"
    assert all(results[j.uri].probe["frame_count"] == 10 + i for i, j in enumerate(clips) if j.uri != doomed)
