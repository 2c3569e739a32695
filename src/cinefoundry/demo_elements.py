"""The demo's element libraries: reels of fire, explosions and sparks shot on black, imported as studio-owned
titles, and the demo model fine-tuned on them, so that `--element` has effects to draw on.

A studio keeps such a library (elements shot on black for compositing); the sample films hold none, and a model
trained only on them makes dark, murky elements. Here the shoot is procedural (`testing.elements`); everything
after it is the product's own path: import, rights gate, ingest, dataset version, fine-tune with lineage.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cinefoundry.catalog.importer import import_catalog
from cinefoundry.core.errors import CinefoundryError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.dataset.build import build_dataset
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.run import run_ingest
from cinefoundry.workspace import Workspace

Echo = Callable[[str], None]
YEAR = 2026
# one title per kind of effect, as element libraries are sold and shelved: the title's words then say which
LIBRARY = {"fire": "Fire", "explosion": "Explosions", "sparks": "Sparks"}
REELS, ELEMENTS_PER_REEL = 1, 8
# Full fine-tuning: in 90 s a rank-16 LoRA of the attention layers left elements dark (loss 0.20, against 0.15 for
# the whole model); 180 s rather than 90 s halved the haze around a fireball (alpha 0 on 44% of pixels, not 32%).
# Twice the base lr, and at least 1800 steps however slow the machine: after 900 steps the explosion, pinned to
# start from black, came out a dim glow on most seeds (0-1.3% of pixels opaque; `demo` failed on a slow VM), because
# the library's windows that start black are mostly the ends of bursts of sparks (77 of them, against 7 explosion
# onsets). After 1800 steps of the same fine-tune, 12 of 12 seeds grew a fireball from black (3.9-9.3% opaque, about
# the library's own onsets); on another demo model, 11 of 12 seeds of the demo's prompt (RESULTS.md, 2026-12-04)
# Those were the final weights. The fine-tune inherits the recipe's EMA, whose warm-up weighs step k of n about as
# (k/n)^8: centred ~180 steps before the end, under 0.2% from the first half, so it never reaches back to the demo
# model. With it the demo's element keyed 29% clear, 29% opaque (RESULTS.md, 2026-12-04)
FINE_TUNE_SECONDS, FINE_TUNE_LR, FINE_TUNE_MIN_STEPS = 300, 2e-3, 1800


def library_id(kind: str) -> str:
    """The catalog id of the element library of `kind` (fire, explosion, sparks)."""
    return f"element_library_{kind}"


def library_phrase(kind: str) -> str:
    """How the captions of the library of `kind` start, and so the words that ask the model for it."""
    return f"A shot from Element Library: {LIBRARY[kind]} ({YEAR}), an effect element on black."


def shoot_library(folder: Path, owner: str, reels: int = REELS, elements: int = ELEMENTS_PER_REEL) -> list[Path]:
    """Render each kind's reels and write its `title.json` (owned by `owner`, cleared to train and generate)
    into `folder/<library id>`; returns the title folders."""
    from cinefoundry.generate.export import write_mp4
    from cinefoundry.testing.elements import element_reel

    titles = []
    for k, kind in enumerate(LIBRARY):
        title = folder / library_id(kind)
        title.mkdir(parents=True, exist_ok=True)
        files = []
        for i in range(reels):
            frames, truth = element_reel(seed=100 * k + i, count=elements, kinds=(kind,))
            name = f"{kind}_reel_{i + 1:02d}.mp4"
            write_mp4(title / name, frames, truth.fps)
            files.append({"file": name, "role": "primary", "decoded_frames": truth.frames})
        doc = {
            "id": library_id(kind),
            "title": f"Element Library: {LIBRARY[kind]}",
            "year": YEAR,
            "kind": "element",
            "rights_holder": owner,
            "has_dialogue": False,
            "files": files,
            # shot by the studio itself: nobody else's rights, no attribution owed, no performers
            "grants": [
                {"license": "studio-owned", "uses": ["train", "generate", "reference"], "territories": ["WW"],
                 "attribution_required": False}
            ],
        }  # fmt: skip
        (title / "title.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        titles.append(title)
    return titles


def element_step(ws: Workspace, parent: str, recipe_name: str, echo: Echo,
                 reporter: Reporter = SILENT) -> dict[str, Any]:  # fmt: skip
    """Shoot, import and ingest the element libraries, then fine-tune `parent` (of recipe `recipe_name`) on them;
    returns the step's JSON document with the element model's label under "model"."""
    from cinefoundry.demo import DEMO_DATASET
    from cinefoundry.models.recipes import get_recipe
    from cinefoundry.train.run import TrainRequest, train_model

    workers, quick = min(4, os.cpu_count() or 1), recipe_name == "tiny"
    folder = ws.home / "element-shoot"
    titles = shoot_library(folder, ws.settings.tenant, **({"elements": 3} if quick else {}))
    imported = import_catalog(folder, ws.session, ws.actor, "full", workers, reporter)
    if not imported.ok:
        raise CinefoundryError(f"element library {folder}: {imported.errors}")
    ids = [t.name for t in titles]
    ingest = run_ingest(ws.session, ws.store, ClipCatalog(ws.clips_uri), titles=ids, workers=workers,
                        reporter=reporter)  # fmt: skip
    settings = dataclasses.replace(DEMO_DATASET, titles=tuple(ids))
    built = build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, "elements", settings, ws.actor).version
    kept = {t.id: t.kept for t in ingest.titles}
    echo(f"10. element libraries shot on black, owned by {ws.settings.tenant}: "
         + ", ".join(f"{LIBRARY[k]} ({kept.get(library_id(k), 0)} clips)" for k in LIBRARY)
         + f"; dataset {built['label']} with {built['clips']} clips")  # fmt: skip
    recipe = get_recipe(recipe_name)
    if not quick:
        recipe = recipe.with_overrides(
            seconds=FINE_TUNE_SECONDS, min_steps=FINE_TUNE_MIN_STEPS, lr=FINE_TUNE_LR, budget_seconds=None, warmup=20
        )
    report = train_model(ws, TrainRequest("elements", recipe, name="elements", init_from=parent),
                         reporter=reporter)  # fmt: skip
    den, model = report.stages["denoiser"], report.model
    echo(f"   {parent} fine-tuned on {built['label']}: {den['steps']} steps in {den['seconds']:.0f} s, final loss "
         f"{den['final_loss']:.4f}; registered {model['label']} (parent {parent})")  # fmt: skip
    return {"titles": ids, "folder": str(folder), "dataset": built, "clips_kept": kept, "model": model["label"],
            "denoiser": {k: v for k, v in den.items() if k != "losses"}}  # fmt: skip
