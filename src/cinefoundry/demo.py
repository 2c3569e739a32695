"""`cinefoundry demo`: every stage that exists so far, on the sample library, in a fresh workspace.

Later stages add their steps here; this file is the table of contents of the whole lifecycle.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.catalog.models import Performer, Title
from cinefoundry.catalog.policy import allowed
from cinefoundry.catalog.queries import find_performer, title_summary
from cinefoundry.core.audit import verify
from cinefoundry.core.errors import CinefoundryError, WorkspaceError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.dataset.audit import audit_dataset, summary_markdown
from cinefoundry.dataset.build import BuildSettings, build_dataset
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.run import run_ingest
from cinefoundry.workspace import DB_FILE, Workspace

DEMO_MARKER = "DEMO-WORKSPACE"
# 1-second samples at the clips' own 16 fps: every kept clip qualifies (2-second samples at 8 fps dropped the
# 1-2 s shots, most of Sintel's excerpt among them), and no frame is resampled unevenly.
DEMO_DATASET = BuildSettings(width=64, height=64, frames=17, fps=16)
Echo = Callable[[str], None]


def find_samples(explicit: str | Path | None = None) -> Path:
    """The sample library: `explicit`, else $CINEFOUNDRY_SAMPLES, else ../shared/samples from here or the repo."""
    candidates = [explicit, os.environ.get("CINEFOUNDRY_SAMPLES")]
    repo = Path(__file__).resolve().parents[2]
    candidates += [Path.cwd() / "../shared/samples", repo / "../shared/samples"]
    for c in candidates:
        if c and (Path(c) / "index.json").exists():
            return Path(c).resolve()
        if c and c in (explicit, os.environ.get("CINEFOUNDRY_SAMPLES")):
            raise CinefoundryError(f"{c}: not a sample library (no index.json)")
    raise CinefoundryError("sample library not found: pass --samples DIR or set CINEFOUNDRY_SAMPLES")


def fresh_workspace(home: Path) -> Workspace:
    """A new demo workspace in `home`, on the embedded default (SQLite file, local object store)."""
    if home.exists() and any(home.iterdir()):
        if not (home / DEMO_MARKER).exists():
            raise WorkspaceError(f"{home} exists and was not made by `cinefoundry demo`; choose another --home")
        shutil.rmtree(home)
    # The demo always runs on the embedded default, whatever CINEFOUNDRY_DATABASE_URL says.
    ws = Workspace.init(home, database_url=f"sqlite:///{home / DB_FILE}")
    (home / DEMO_MARKER).write_text("made by `cinefoundry demo`; the next demo run deletes and recreates it\n")
    return ws


def run_demo(home: Path, samples: Path, echo: Echo = print, reporter: Reporter = SILENT,
             recipe: str = "demo") -> dict[str, Any]:  # fmt: skip
    """Run the lifecycle on the samples; returns what each step did (the `--json` document).

    `recipe` picks the model trained in step 8: `demo` (9.5 minutes on 2 cores) or `tiny` (seconds).
    """
    result: dict[str, Any] = {"samples": str(samples)}
    ws = fresh_workspace(home)
    try:
        result["workspace"] = ws.describe()
        echo(f"1. workspace {home}: SQLite metadata, object store, settings (schema {ws.revision})")
        result["import"] = _import_step(ws, samples, echo, reporter)
        result["rights"] = _rights_step(ws, echo)
        result["talent"] = _talent_step(ws, echo)
        result["ingest"] = _ingest_step(ws, echo, reporter)
        result["dataset"] = _dataset_step(ws, echo)
        result["train"] = _train_step(ws, echo, reporter, recipe)
        result["eval"] = _eval_step(ws, echo, reporter, result["train"]["model"]["label"], recipe)
        from cinefoundry.demo_elements import element_step
        from cinefoundry.demo_shots import generate_step, storyboard_step  # torch loads here, not at CLI start

        label, quick = result["train"]["model"]["label"], recipe == "tiny"
        result["elements"] = element_step(ws, label, recipe, echo, reporter)
        result["generate"] = generate_step(ws, samples, label, result["elements"]["model"], echo, reporter,
                                           quick=quick)  # fmt: skip
        result["storyboard"] = storyboard_step(ws, samples, label, echo, reporter, quick=quick)
        with ws.session("audit.verify") as s:
            audit = verify(s).as_dict()
        result["audit"] = audit
        echo(f"13. audit log: {audit['entries']} hash-chained entries, intact={audit['ok']}, head {audit['head'][:16]}")
    finally:
        ws.close()
    result["ok"] = all(
        (
            result["import"]["ok"],
            result["import"]["frames_match"],
            result["ingest"]["ok"],
            len(result["ingest"]["titles_with_clips"]) == len(result["import"]["titles"]),
            len(result["dataset"]["attribution_lines"]) == len(result["import"]["titles"]),
            result["train"]["model"] is not None,
            result["generate"]["ok"],
            result["storyboard"]["ok"],
            result["audit"]["ok"],
        )
    )
    return result


def _import_step(ws: Workspace, samples: Path, echo: Echo, reporter: Reporter) -> dict[str, Any]:
    report = import_catalog(samples, ws.session, ws.actor, "full", min(4, os.cpu_count() or 1), reporter)
    expected = _expected_frames(samples)
    with ws.session("catalog.read") as s:
        titles = [title_summary(t) for t in s.scalars(select(Title).order_by(Title.id))]
        measured = {Path(m.uri).name: m.frame_count for t in s.scalars(select(Title)) for m in t.media_files}
    mismatches = {f: (n, measured.get(f)) for f, n in expected.items() if measured.get(f) != n}
    echo(f"2. imported {len(titles)} titles from {samples} ({report.counts()['created']} new):")
    for t in titles:
        echo(f"   - {t['name']} ({t['year']}, {t['kind']}): {t['media_files']} files, {t['duration_s']:.1f} s, "
             f"{t['frames']} frames, {t['performers']} performers, allowed: {', '.join(t['uses'])}")  # fmt: skip
    echo(f"   frame counts measured by decoding match title.json for {len(expected) - len(mismatches)}"
         f"/{len(expected)} files")  # fmt: skip
    for problem in report.errors:
        echo(f"   problem: {problem['source']}: {problem['problem']}")
    return {"ok": report.ok, "titles": titles, "frames_match": not mismatches, "mismatches": mismatches,
            "errors": report.errors}  # fmt: skip


def _ingest_step(ws: Workspace, echo: Echo, reporter: Reporter) -> dict[str, Any]:
    report = run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), workers=min(4, os.cpu_count() or 1),
                        reporter=reporter)  # fmt: skip
    speed = report.footage_s / report.wall_s if report.wall_s else 0.0
    echo(f"5. ingest: {report.footage_s:.0f} s of footage in {report.wall_s:.1f} s ({speed:.0f}x realtime), "
         f"one decode per file, clips of 4k+1 frames at 16 fps")  # fmt: skip
    for t in report.titles:
        rejected = ", ".join(f"{k} {n}" for k, n in t.rejected.items()) or "none"
        alternates = f" ({t.alternates} alternate encode skipped)" if t.alternates else ""
        echo(f"   - {t.id}: {t.clips} clips, {t.kept} kept; rejected: {rejected}{alternates}")
    for e in report.errors:
        echo(f"   failed: {e['source']}: {e['problem'].splitlines()[0]}")
    doc = report.as_dict()
    doc["titles_with_clips"] = [t.id for t in report.titles if t.clips]
    return doc


def _dataset_step(ws: Workspace, echo: Echo) -> dict[str, Any]:
    built = build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, "demo", DEMO_DATASET, ws.actor)
    v = built.version
    echo(f"6. dataset {v['label']}: {v['clips']} clips, {v['seconds']:.0f} s, 64x64, 17 frames at 16 fps, "
         f"content hash {v['content_hash'][:16]}, clip catalog v{v['catalog_version']}")  # fmt: skip
    with ws.session("dataset.read") as s:
        audit = audit_dataset(s, "demo")
    path = ws.home / "reports" / f"{v['label']}-training-content-summary.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(summary_markdown(audit, ws.settings.tenant), encoding="utf-8")
    echo(f"7. rights audit of {v['label']}: {len(audit['titles'])} titles, each with its grant; attribution lines:")
    for line in audit["attribution_lines"]:
        echo(f"   - {line}")
    echo(f"   training-content summary: {path}")
    return {"version": v, "titles": built.titles, "left_out_clips": built.rejected,
            "attribution_lines": audit["attribution_lines"], "summary": str(path)}  # fmt: skip


def _train_step(ws: Workspace, echo: Echo, reporter: Reporter, recipe: str) -> dict[str, Any]:
    from cinefoundry.models.recipes import get_recipe
    from cinefoundry.train.run import TrainRequest, train_model

    echo(f"8. train the studio model on demo@v1 (recipe {recipe}): VAE, latent and text caches, Wan denoiser")
    report = train_model(ws, TrainRequest("demo", get_recipe(recipe)), reporter=reporter)
    vae, den, m = report.stages.get("vae", {}), report.stages["denoiser"], report.model
    if vae:
        echo(f"   VAE: {vae['steps']} steps in {vae['seconds']:.0f} s ({vae['precision']}); held-out PSNR "
             f"{vae['psnr']:.1f} dB (mean clip {vae['mean_clip_psnr']:.1f} dB)")  # fmt: skip
    echo(f"   denoiser: {den['steps']} steps in {den['seconds']:.0f} s ({den['precision']}), final loss "
         f"{den['final_loss']:.4f}")  # fmt: skip
    with ws.session("registry.read") as s:
        from cinefoundry.registry.registry import find_model, lineage

        lin = lineage(s, find_model(s, m["label"]))
    grants = ", ".join(f"{t['title_id']} (grant #{t['grant_id']})" for t in lin["titles"])
    echo(f"   registered {m['label']} for tenant {m['tenant']}, code {m['code_version']}; relies on {grants}")
    doc = report.as_dict()
    for stage in doc["stages"].values():
        stage.pop("losses", None)  # per-step losses: in the run folder's checkpoints, not in the demo summary
    return doc


def _eval_step(ws: Workspace, echo: Echo, reporter: Reporter, label: str, recipe: str) -> dict[str, Any]:
    from cinefoundry.evaluate.model_eval import EvalSettings, evaluate_model
    from cinefoundry.generate.export import grid, write_mp4

    quick = recipe == "tiny"
    settings = EvalSettings(per_title=2, steps=4, classifier_steps=30, judges=2) if quick else EvalSettings()
    doc = evaluate_model(ws, label, settings, reporter)
    samples = doc.pop("samples")
    sheet = write_mp4(ws.home / "reports" / f"{label}-samples.mp4", grid(samples, columns=settings.per_title), 8)
    v, tr, fd, memo = doc["vae"], doc["title_recognition"], doc["catalog_fd"], doc["memorisation"]
    echo(f"9. eval {label} on {doc['held_out_windows']} held-out windows: VAE {v['psnr_db']:.1f} dB PSNR "
         f"(mean clip {v['mean_clip_psnr_db']:.1f}, {v['gain_db']:+.1f} dB), SSIM {v['ssim']:.2f}")  # fmt: skip
    echo(f"   title recognition of {tr['clips']} generated clips: {tr['accuracy']:.0%} (chance {tr['chance']:.0%}); "
         f"catalog FD ratio {fd['ratio']:.2f}; memorisation ratio {memo['ratio']:.2f}")  # fmt: skip
    echo(f"   generated samples (one row per title): {sheet}")
    return doc | {"sample_sheet": str(sheet)}


def _expected_frames(samples: Path) -> dict[str, int]:
    out = {}
    for title_json in samples.glob("*/title.json"):
        for f in json.loads(title_json.read_text(encoding="utf-8"))["files"]:
            out[f["file"]] = f["decoded_frames"]
    return out


def _rights_step(ws: Workspace, echo: Echo) -> list[dict[str, Any]]:
    checks = []
    echo("3. rights gate (policy.allowed):")
    with ws.session("rights.read") as s:
        for t in s.scalars(select(Title).order_by(Title.id)):
            for use, where in (("train", "WW"), ("generate", "FR"), ("reference", "WW")):
                d = allowed(t, use, territory=where)
                checks.append({"title": t.id, "use": use, "territory": where} | d.as_dict())
                echo(f"   {'ALLOWED' if d.ok else 'DENIED '} {d.reason}")
    return checks


def _talent_step(ws: Workspace, echo: Echo) -> dict[str, Any]:
    with ws.session("talent.read") as s:
        people = list(s.scalars(select(Performer).order_by(Performer.name)))
        tos = s.get(Title, "tears_of_steel")
        on_screen = [c for c in tos.characters if c.performance == "on_screen"] if tos else []
        echo(f"4. talent: {len(people)} performers; Tears of Steel credits {len(tos.credits) if tos else 0}, "
             f"{len(on_screen)} on-screen characters")  # fmt: skip
        checks = []
        for ch in on_screen:
            performer = find_performer(s, ch.performer.name)
            d = allowed(performer, "synthetic_likeness", title=tos.id)
            checks.append({"character": ch.name, "performer": performer.name} | d.as_dict())
            echo(f"   {'CONSENTED' if d.ok else 'REFUSED'} {ch.name} played by {d.reason}")
    return {"performers": len(people), "likeness_checks": checks}
