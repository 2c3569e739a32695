"""The invisible watermark on the sample videos: PSNR, bit accuracy and exact ids per attack, false positives, speed.

Each sample video gives a 48-frame excerpt at its native size, and a 64x64, 17-frame version of it (the demo
model's output size). Each is marked with a random 64-bit id, attacked (none, H.264 CRF 23, CRF 28, 0.5x
resize + CRF 23) and read back. False positives: unmarked windows of every video, raw and re-encoded, and the
marked clips read with wrong keys. Goal: >= 95% bit accuracy. Results are appended to RESULTS.md.

Run: python benchmarks/watermark.py [--samples DIR] [--frames 48] [--fp-seconds 20] [--seed 0] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from common import machine, record
from rich.console import Console
from rich.table import Table

from cinefoundry.demo import find_samples
from cinefoundry.provenance.frames import read_frames, reencode
from cinefoundry.provenance.watermark import QIMWatermarker, default_watermarker, payload_bits

ATTACKS = {
    "none": None,
    "H.264 CRF 23": {"crf": 23},
    "H.264 CRF 28": {"crf": 28},
    "0.5x + CRF 23": {"crf": 23, "scale": 0.5},
}
GOAL = 0.95


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def videos(samples: Path) -> list[Path]:
    """Every video file of the sample library, from index.json."""
    return [samples / t["folder"] / f for t in json.loads((samples / "index.json").read_text()) for f in t["files"]]


def run_clip(wm: QIMWatermarker, frames: np.ndarray, payload: int, rows: dict, speed: dict) -> None:
    """Mark, attack and read one clip; adds per-attack (bit accuracy, exact) rows and timings."""
    t0 = time.perf_counter()
    marked = wm.embed(frames, payload)
    embed_s = time.perf_counter() - t0
    truth = payload_bits(payload)
    for attack, options in ATTACKS.items():
        attacked = marked if options is None else reencode(marked, **options)
        t1 = time.perf_counter()
        det = wm.detect(attacked)
        if options is None:
            speed["detect"].append(len(frames) / (time.perf_counter() - t1))
        rows[attack].append((float(np.mean((det.bits > 0) == truth)), det.payload == payload))
    speed["embed"].append(len(frames) / embed_s)
    speed["psnr"].append(psnr(marked, frames))


def false_positives(files: list[Path], seconds: float, marked: list[np.ndarray], keys: int) -> dict:
    """Payloads read where none should be: {kind: (trials, hits, mean hint)}.

    Unmarked real windows (48 frames native, 17 frames at 64x64; a few re-encoded at CRF 23), and marked
    clips read with `keys` other keys.
    """
    wm, dets = default_watermarker(), []
    for path in files:
        frames = read_frames(path, max_frames=int(seconds * 24))
        small = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA) for f in frames])
        windows = [frames[i : i + 48] for i in range(0, len(frames) - 47, 48)]
        windows += [small[i : i + 17] for i in range(0, len(small) - 16, 17)]
        windows += [reencode(w, crf=23) for w in windows[:3]]
        dets += [wm.detect(w) for w in windows]
    wrong = [QIMWatermarker(key=k).detect(marked[k % len(marked)]) for k in range(1, keys + 1)]
    out = {}
    for kind, found in (("unmarked real windows", dets), ("marked, wrong key", wrong)):
        hint = float(np.mean([d.bit_accuracy_hint for d in found]))
        out[kind] = (len(found), sum(d.payload is not None for d in found), hint)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default=None)
    parser.add_argument("--frames", type=int, default=48, help="frames per native-size excerpt")
    parser.add_argument("--fp-seconds", type=float, default=20, help="seconds of each video read unmarked")
    parser.add_argument("--wrong-keys", type=int, default=2000, help="reads of marked clips with other keys")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args()
    files = videos(find_samples(args.samples))
    rng = np.random.default_rng(args.seed)
    wm = default_watermarker()
    groups = {"native": (defaultdict(list), defaultdict(list)), "64x64x17": (defaultdict(list), defaultdict(list))}
    per_file, marked_small = [], []
    console = Console()
    for path in files:
        frames = read_frames(path, max_frames=args.frames)
        small = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA) for f in frames[:17]])
        for group, clip in (("native", frames), ("64x64x17", small)):
            run_clip(wm, clip, int(rng.integers(0, 2**64, dtype=np.uint64)), *groups[group])
        marked_small.append(wm.embed(small, int(rng.integers(0, 2**63))))
        rows, speed = groups["native"]
        per_file.append((path.name, frames.shape, speed["psnr"][-1], {a: r[-1] for a, r in rows.items()}))
        console.print(f"{path.name} {frames.shape[2]}x{frames.shape[1]}: PSNR {speed['psnr'][-1]:.1f} dB")
    fps = false_positives(files, args.fp_seconds, marked_small, args.wrong_keys)

    table = Table(title=f"watermark {wm.name}, step {wm.step}")
    for col in ("clips", "attack", "bit accuracy (mean / min)", "exact id", "goal >= 95%"):
        table.add_column(col)
    lines = []
    for group, (rows, _speed) in groups.items():
        for attack, r in rows.items():
            acc, exact = np.array([a for a, _ in r]), np.mean([e for _, e in r])
            met = "yes" if acc.mean() >= GOAL else "no"
            cells = (group, attack, f"{acc.mean():.1%} / {acc.min():.1%}", f"{exact:.0%} ({len(r)})", met)
            table.add_row(*cells)
            lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    nat, tiny = groups["native"][1], groups["64x64x17"][1]
    sizes = ", ".join(f"{name} {s[2]}x{s[1]} {p:.1f} dB" for name, s, p, _ in per_file)
    misses = [f"{name} {a}" for name, _, _, res in per_file for a, (_, ok) in res.items() if not ok]
    out = [
        f"## watermark ({wm.name}), {dt.date.today()}, {machine()}",
        f"{len(files)} sample videos, {args.frames}-frame excerpts at native size and a 64x64 17-frame version of "
        f"each; random 64-bit ids; attacks re-encode with libx264 (preset medium, yuv420p) through PyAV.",
        "",
        "| clips | attack | bit accuracy (mean / min) | exact id | goal >= 95% |",
        "|---|---|---|---|---|",
        *lines,
        "",
        "| measure | value |",
        "|---|---|",
        f"| PSNR marked vs original, native (mean / min) | {np.mean(nat['psnr']):.1f} / {np.min(nat['psnr']):.1f} dB |",
        f"| PSNR, 64x64x17 (mean / min) | {np.mean(tiny['psnr']):.1f} / {np.min(tiny['psnr']):.1f} dB |",
        *(
            f"| false positives, {kind}: payload read | {h} / {n} (mean hint {hint:.3f}) |"
            for kind, (n, h, hint) in fps.items()
        ),
        f"| embed speed, native (median over sizes, frames/s, one process) | {np.median(nat['embed']):.0f} |",
        f"| detect speed, native (median, frames/s, decoded frames in memory) | {np.median(nat['detect']):.0f} |",
        f"| embed / detect speed, 64x64 (median, frames/s) | {np.median(tiny['embed']):.0f} / "
        f"{np.median(tiny['detect']):.0f} |",
        "",
        f"Per file (PSNR): {sizes}. Exact-id misses: {', '.join(misses) or 'none'}.",
        "Speed per size (embed / detect frames/s): "
        + ", ".join(
            f"{s[2]}x{s[1]} {e:.0f} / {d:.0f}"
            for (_, s, _, _), e, d in zip(per_file, nat["embed"], nat["detect"], strict=True)
        )
        + ".",
    ]
    text = "\n".join(out) + "\n"
    print(text) if args.no_record else record(text)


if __name__ == "__main__":
    main()
