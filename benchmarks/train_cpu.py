"""The demo recipe end to end on the samples, on this machine's CPU: wall time and every eval number.

Builds a fresh workspace (import, ingest, dataset demo@v1: 64x64, 17 frames at 16 fps), trains the `demo`
recipe (VAE, caches, Wan denoiser), then runs `cinefoundry eval`. Goals (issue 4): training <= 10 minutes
on 2 cores; VAE >= mean-clip baseline + 10 dB PSNR; title recognition >= 90% (chance 25%); catalog FD of
generated vs held-out <= 1.5x that of training vs held-out. Results are appended to RESULTS.md.

Run: python benchmarks/train_cpu.py [--samples DIR] [--home DIR] [--set 'seconds=300,...']
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import torch
from common import machine, record

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.cli.output import RichReporter
from cinefoundry.cli.train_cmds import parse_overrides
from cinefoundry.dataset.build import build_dataset
from cinefoundry.demo import DEMO_DATASET, find_samples
from cinefoundry.evaluate.model_eval import EvalSettings, evaluate_model
from cinefoundry.generate.export import grid, write_mp4
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.run import run_ingest
from cinefoundry.models.recipes import get_recipe
from cinefoundry.train.run import TrainRequest, train_model
from cinefoundry.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default=None)
    parser.add_argument("--home", default=None, help="workspace folder (default: a temporary one)")
    parser.add_argument("--set", default="", help="training overrides, e.g. 'seconds=300'")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="cf-train-bench-")) / "studio"
    ws = Workspace.init(home)
    t0 = time.perf_counter()
    assert import_catalog(find_samples(args.samples), ws.session, ws.actor, workers=2).ok
    assert run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), workers=2).ok
    built = build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, "demo", DEMO_DATASET, ws.actor)
    prep = time.perf_counter() - t0
    recipe = get_recipe("demo").with_overrides(**parse_overrides(args.set))
    t1 = time.perf_counter()
    report = train_model(ws, TrainRequest("demo", recipe), reporter=RichReporter())
    train_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    settings = EvalSettings()
    doc = evaluate_model(ws, report.model["label"], settings, RichReporter())
    eval_s = time.perf_counter() - t2
    sheet = write_mp4(home / "reports" / "samples.mp4", grid(doc.pop("samples"), columns=settings.per_title), 8)
    v, fl, tr, fd, memo = doc["vae"], doc["flow"], doc["title_recognition"], doc["catalog_fd"], doc["memorisation"]
    vae, den, clf = report.stages["vae"], report.stages["denoiser"], doc["classifier"]
    g, t = fd["generated_vs_held_out"], fd["train_vs_held_out"]
    lines = [
        f"## train_cpu (demo recipe), {dt.date.today()}, {machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        f"dataset {built.version['label']}: {built.version['clips']} clips, {doc['train_windows']} training windows "
        f"(stride 1 frame; {doc['train_windows_distinct']} distinct), "
        f"{doc['held_out_windows']} distinct held-out windows; prep (import, ingest, "
        f"build) {prep:.0f} s" + (f"; training overrides: {args.set}" if args.set else ""),
        "",
        "| measure | value | goal | met |",
        "|---|---|---|---|",
        f"| training wall time (VAE {vae['seconds']:.0f} s / {vae['steps']} steps, denoiser {den['seconds']:.0f} s / "
        f"{den['steps']} steps) | {train_s / 60:.1f} min | <= 10 min | {'yes' if train_s <= 600 else 'no'} |",
        f"| VAE PSNR held-out (SSIM {v['ssim']:.3f}) | {v['psnr_db']:.2f} dB (mean clip {v['mean_clip_psnr_db']:.2f}, "
        f"{v['gain_db']:+.2f} dB) | >= +10 dB | {'yes' if v['gain_db'] >= 10 else 'no'} |",
        f"| title recognition, {tr['clips']} generated clips ({tr['steps']} steps, guidance {tr['guidance']}) | "
        f"{tr['accuracy']:.1%} (95% interval {tr['interval_95'][0]:.1%}-{tr['interval_95'][1]:.1%}; "
        f"{', '.join(f'{k} {a:.0%}' for k, a in tr['per_title'].items())}; "
        f"{len(tr['per_judge'])} judges, each alone {min(tr['per_judge']):.1%}-{max(tr['per_judge']):.1%}) | >= 90% "
        f"(chance {tr['chance']:.0%}) | {'yes' if tr['accuracy'] >= 0.9 else 'no'} |",
        f"| catalog FD ratio (generated vs held-out {g['mean']:.2f} ± {g['std']:.2f} / training vs held-out "
        f"{t['mean']:.2f} ± {t['std']:.2f}, {g['clips_per_draw']} clips per draw in the held-out title mix; "
        f"unmatched {fd['ratio_unmatched_titles']:.2f}; judges alone {min(fd['ratio_per_judge']):.2f}-"
        f"{max(fd['ratio_per_judge']):.2f}) | {fd['ratio']:.2f} | <= 1.5 | "
        f"{'yes' if fd['ratio'] <= 1.5 else 'no'} |",
        "| title confusion (prompted title: recognised counts) | "
        + "; ".join(f"{t}: " + ", ".join(f"{u} {n}" for u, n in row.items() if n) for t, row in tr["confusion"].items())
        + " | | |",
        f"| classifier accuracy on held-out real clips (judges together; each alone; mean of titles) | "
        f"{clf['held_out_accuracy']:.1%} ({', '.join(f'{a:.0%}' for a in clf['held_out_accuracy_per_judge'])}; "
        f"{clf['held_out_title_mean']:.0%}) | "
        "(sanity) | |",
        f"| flow-matching loss, held-out / train (9-level sigma grid) | {fl['held_out_mean']:.4f} / "
        f"{fl['train_mean']:.4f} | | |",
        f"| memorisation: median nearest-train distance generated / held-out | {memo['ratio']:.2f} (copy rate "
        f"{memo['copy_rate']:.1%}) | ~1 (no copying) | |",
        f"| eval wall time | {eval_s:.0f} s | | |",
    ]
    record("\n".join(lines) + "\n")
    print(f"samples: {sheet}")  # not in RESULTS.md: a path of this machine


if __name__ == "__main__":
    main()
