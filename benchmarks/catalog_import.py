"""Catalog import throughput on the sample library, side by side with the physical limit (decode only).

Prints realtime factors (seconds of footage per wall second) and ratios, and appends them to RESULTS.md.
Run: python benchmarks/catalog_import.py [--samples DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.sources import discover
from cinefoundry.demo import find_samples
from cinefoundry.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, record


def decode_only(path: str) -> tuple[int, float]:
    """The floor: decode every frame of the video stream, nothing else; returns (frames, seconds of footage)."""
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = sum(1 for _ in c.decode(s))
        return n, n / float(s.average_rate)


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_import(samples: Path, probe: str, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "studio")
        seconds, report = timed(lambda: import_catalog(samples, ws.session, ws.actor, probe, workers))
        assert report.ok, report.errors
        ws.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", default=None)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for each row")
    args = ap.parse_args()
    samples = find_samples(args.samples)
    media = [m.uri for t in discover(samples).titles for m in t.media]
    footage = sum(decode_only(p)[1] for p in media)  # also warms the page cache for every row below

    best = lambda fn: min(fn() for _ in range(args.repeat))  # noqa: E731

    def decode_two() -> float:
        with ProcessPoolExecutor(2) as pool:
            return timed(lambda: list(pool.map(decode_only, media)))[0]

    floor = {1: best(lambda: timed(lambda: [decode_only(p) for p in media])[0]), 2: best(decode_two)}
    runs = [(probe, workers, best(lambda p=probe, w=workers: run_import(samples, p, w)))
            for probe, workers in (("full", 1), ("full", 2), ("fast", 2))]  # fmt: skip

    lines = [f"## catalog import, {dt.date.today()}, {machine()}",
             f"{len(media)} media files, {footage:.1f} s of footage; best of {args.repeat}; wall seconds.", "",
             "| run | wall s | footage s per wall s | decode-only time / this time |", "|---|---|---|---|"]  # fmt: skip
    for procs, seconds in floor.items():
        lines.append(
            f"| decode only (physical limit), {procs} process(es) | {seconds:.2f} | {footage / seconds:.1f} | 1.00 |"
        )
    for probe, workers, seconds in runs:
        ratio = floor[workers] / seconds
        lines.append(
            f"| import --probe {probe} --workers {workers} | {seconds:.2f} | {footage / seconds:.1f} | {ratio:.2f} |"
        )
    record("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
