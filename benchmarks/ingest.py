"""Ingest throughput and shot-detection quality, measured side by side in one run.

Throughput, on the sample files ingest processes (alternate encodes excluded):
  (a) the physical limit: PyAV decode of every frame, nothing else;
  (b) PySceneDetect's default `detect-content` command on the same files;
  (c) our full CPU ingest: shots, clips (4k+1 frames, 16 fps, 144p H.264), scores, captions, catalog writes.
Reported as seconds of footage per CPU second, wall on 2 workers, video-hours per core-hour, and (c) / (a).
Shot detection: F1 per tier on a synthetic film with known hard cuts, a dissolve, fades, a black slate, a
flash frame and scrolling credits (tolerance 2 frames), and against the samples' approximate hard cuts
(tolerance 0.25 s). Results are appended to RESULTS.md.

Run: python benchmarks/ingest.py [--samples DIR] [--skip-transnet]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import av

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.core.store import sha256_file
from cinefoundry.demo import find_samples
from cinefoundry.ingest.captions import TitleFacts
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.config import IngestConfig
from cinefoundry.ingest.pipeline import MediaTask, process_media
from cinefoundry.ingest.run import run_ingest
from cinefoundry.testing.film import make_film
from cinefoundry.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, record


def decode_only(path: str) -> tuple[float, float]:
    """(CPU seconds, seconds of footage) of decoding every frame, threads as ingest uses them."""
    start = time.process_time()
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = sum(1 for _ in c.decode(s))
        return time.process_time() - start, n / float(s.average_rate)


def media_of(samples: Path) -> list[dict]:
    out = []
    for title_json in sorted(samples.glob("*/title.json")):
        for f in json.loads(title_json.read_text())["files"]:
            if f.get("role") != "alternate_encode":
                out.append(f | {"path": str(title_json.parent / f["file"])})
    return out


def scenedetect_cli(paths: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `scenedetect -i FILE detect-content` over the files, one after another."""
    exe = Path(sys.executable).with_name("scenedetect")
    before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    for p in paths:
        subprocess.run([str(exe), "-i", p, "-q", "detect-content"], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, time.perf_counter() - wall


def ingest_run(samples: Path, workers: int) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, footage seconds) of a full ingest into a fresh workspace."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "studio")
        assert import_catalog(samples, ws.session, ws.actor, workers=2).ok
        own = time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), workers=workers)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        cpu = time.process_time() - own + workers_cpu
        assert report.ok, report.errors
        ws.close()
        return cpu, report.wall_s, report.footage_s


def f1(found: list[float], truth: list[float], tol: float) -> tuple[int, int, int]:
    used: set[int] = set()
    tp = 0
    for t in truth:
        match = next((i for i, f in enumerate(found) if abs(f - t) <= tol and i not in used), None)
        if match is not None:
            used.add(match)
            tp += 1
    return tp, len(found) - len(used), len(truth) - tp


def score(tp: int, fp: int, fn: int) -> str:
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return (
        f"F1 {2 * p * r / max(1e-9, p + r):.2f} (recall {r:.2f}, precision {p:.2f}; {tp} hit, {fp} false, {fn} missed)"
    )


def boundaries(path: str, fps: float, transnet: str) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    cfg = IngestConfig()
    cfg = replace(cfg, shots=replace(cfg.shots, transnet=transnet))
    result = process_media(_task(path, fps, cfg))
    assert result.error is None, result.error
    starts = [a for a, _ in result.shots[1:]]
    return starts, result.transitions, result.flashes


def _task(path: str, fps: float, cfg: IngestConfig) -> MediaTask:
    facts = TitleFacts("T", None, "short", None)
    return MediaTask(0, sha256_file(path)[0], path, fps, "t", 0, facts, [], cfg)


def film_quality(transnet: bool) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "film.mp4"
        truth = make_film(path)
        for tier in ["off"] + (["on"] if transnet else []):
            starts, spans, _ = boundaries(str(path), truth.fps, tier)
            # a boundary inside a dissolve/fade counts for that transition, not as a false cut
            gradual_hit = [any(a - 2 <= s <= b + 2 for s in starts) or any(x <= b + 2 and y >= a - 2 for x, y in spans)
                           for a, b in truth.gradual]  # fmt: skip
            cuts = [s for s in starts if not any(a - 2 <= s <= b + 2 for a, b in truth.gradual)]
            tp, fp, fn = f1([float(c) for c in cuts], [float(c) for c in truth.hard_cuts], 2)
            flash_false = sum(abs(c - truth.flashes[0]) <= 2 for c in cuts)
            credits_false = sum(truth.credits[0] + 2 < c <= truth.credits[1] for c in cuts)
            name = "tier 1 (AdaptiveDetector + flash filter)" if tier == "off" else "tiers 1+2 fused (TransNetV2)"
            gradual = f"{sum(gradual_hit)}/{len(truth.gradual)}"
            false = f"on the flash {flash_false}, in the credits {credits_false}"
            lines.append(f"| synthetic film | {name} | {score(tp, fp, fn)} | {gradual} | {false} |")
    return lines


def samples_quality(media: list[dict], transnet: bool) -> list[str]:
    lines = []
    for tier in ["off"] + (["on"] if transnet else []):
        tp = fp = fn = 0
        for f in media:
            starts, spans, _ = boundaries(f["path"], f["fps"], tier)
            found = [s / f["fps"] for s in starts] + [(a + b) / 2 / f["fps"] for a, b in spans]
            a, b, c = f1(found, f["approx_shot_change_times_s"], 0.25)
            tp, fp, fn = tp + a, fp + b, fn + c
        name = "tier 1" if tier == "off" else "tiers 1+2 fused"
        lines.append(f"| samples (approximate cuts) | {name} | {score(tp, fp, fn)} | | |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", default=None)
    ap.add_argument("--skip-transnet", action="store_true", help="TransNetV2 on CPU takes minutes on the samples")
    args = ap.parse_args()
    samples = find_samples(args.samples)
    media = media_of(samples)
    paths = [m["path"] for m in media]
    decode_only(paths[0])  # warm the page cache and the codec libraries

    per_file = [(m["file"], m["width"], m["height"], *decode_only(m["path"])) for m in media]
    a_cpu = sum(cpu for *_, cpu, _ in per_file)
    footage = sum(seconds for *_, seconds in per_file)
    wall = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(decode_only, paths))
    a_wall2 = time.perf_counter() - wall
    b_cpu, b_wall = scenedetect_cli(paths)
    c_cpu, c_wall1, c_footage = ingest_run(samples, workers=1)
    _, c_wall2, _ = ingest_run(samples, workers=2)
    assert abs(c_footage - footage) < 1.0, (c_footage, footage)

    def row(name: str, cpu: float, wall2: float | None) -> str:
        w = f"{footage / wall2:.1f}x" if wall2 else "-"
        return f"| {name} | {cpu:.2f} | {footage / cpu:.1f}x | {w} | {footage / cpu:.1f} | {a_cpu / cpu:.2f} |"

    lines = [
        f"## ingest, {dt.date.today()}, {machine()}",
        f"{len(media)} files, {footage:.1f} s of footage (alternate encodes excluded; ingest skips them too).",
        "",
        "| run | CPU s | footage s per CPU s | wall, 2 workers | video-hours per core-hour | (a) CPU / this CPU |",
        "|---|---|---|---|---|---|",
        row("(a) PyAV decode only (physical limit)", a_cpu, a_wall2),
        row("(b) PySceneDetect `detect-content` CLI", b_cpu, None) + f" (wall 1 process {b_wall:.1f} s)",
        row("(c) cinefoundry ingest, full", c_cpu, c_wall2) + f" (wall 1 worker {c_wall1:.1f} s)",
        "",
        "Per file, (a) CPU / (c) CPU by source size (c per file: `process_media`, one process):",
        "",
        "| file | source | decode CPU s | ingest CPU s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, w, h, cpu, _ in per_file:
        path = next(m["path"] for m in media if m["file"] == name)
        fps = next(m["fps"] for m in media if m["file"] == name)
        ingest_cpu = process_media(_task(path, fps, IngestConfig().resolved(False))).cpu_s
        lines.append(f"| {name} | {w}x{h} | {cpu:.2f} | {ingest_cpu:.2f} | {cpu / ingest_cpu:.2f} |")
    lines += ["", "| shot detection | tier | hard cuts | gradual | false cuts |", "|---|---|---|---|---|"]
    lines += film_quality(not args.skip_transnet)
    lines += samples_quality(media, not args.skip_transnet)
    record("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
