"""`generate(ws, request)`: rights and likeness checks, rendering, the after-check, then marked, signed,
recorded files, one per take.

1. the model: this tenant's, not marked affected, and every title it learned from still allows `generate`;
2. the likeness guard on the prompt and on every reference image or clip (refusals are logged and raised);
3. the inputs fitted to the output geometry, the takes rendered (a `--final` re-renders its preview);
4. the guard on each take's frames; then watermark, export, C2PA manifest and generation record per take.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np

from cinefoundry.catalog import policy
from cinefoundry.catalog.models import Title
from cinefoundry.core.errors import InputError, RefusedError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.generate.conditions import Geometry, buckets, load_clip, load_image, model_geometry
from cinefoundry.generate.pipeline import StudioPipeline
from cinefoundry.generate.render import RenderInputs, RenderSettings, TakeRenderer, loop_seam
from cinefoundry.generate.request import GenerateRequest
from cinefoundry.models.bundle import ModelBundle, load_bundle
from cinefoundry.provenance.frames import read_frames
from cinefoundry.provenance.likeness import LikenessGuard
from cinefoundry.provenance.models import LikenessCheck
from cinefoundry.provenance.records import find_record
from cinefoundry.provenance.stamp import Stamper
from cinefoundry.registry.models import AFFECTED, StudioModel
from cinefoundry.registry.registry import find_model
from cinefoundry.workspace import Workspace

_BUNDLES: dict[str, ModelBundle] = {}  # loaded models by folder: a storyboard or a server generates many times


def generate(ws: Workspace, request: GenerateRequest, reporter: Reporter = SILENT,
             device: str = "cpu") -> dict[str, Any]:  # fmt: skip
    """Make the takes of `request`; returns what was written and the records, as a JSON-ready dict."""
    started = time.perf_counter()
    parent = preview_file = None
    if request.final:
        request, parent, preview_file = _from_preview(ws, request)
    with ws.session("generate.check") as s:
        model = find_model(s, request.model)
        _check_model(s, ws, model)
        model_label, folder = model.label, ws.home / model.path
        guard = _guard(s, ws)
        decisions = [guard.check_prompt(request.prompt)]
        for role, path in request.input_files():
            # clips are checked at their own resolution: at the model's 64 px a face would be too small to find
            decisions.append(guard.check_frames(_reference_frames(path)) if role in ("extend", "video") else
                             guard.check_image(path))  # fmt: skip
        refused = [r for d in decisions if not d.allowed for r in d.reasons]
        checks = [d.check_id for d in decisions]
    if refused:
        raise RefusedError("generation", refused)
    bundle = _bundle(folder, device)
    if request.guidance is None:  # the record keeps the scale actually used
        request = replace(request, guidance=bundle.recipe.guidance)
    geom = _geometry(bundle, request)
    inputs = _inputs(request, geom, preview_file)
    prompt, negative = request.model_prompt()
    total = geom.frames if request.loop else (request.frames or geom.frames)
    settings = RenderSettings(prompt, negative, [request.seed + i for i in range(request.takes)],
                              request.sampling_steps, request.guidance, total, loop=request.loop)  # fmt: skip
    pipe = StudioPipeline(bundle, device)
    renderer = TakeRenderer(pipe, geom, on_step=reporter.step)
    reporter.begin(f"generating {request.takes} take(s) of {request.mode} ({request.kind})",
                   settings.steps * renderer.windows_needed(total, request.loop))  # fmt: skip
    frames = renderer.render(settings, inputs)
    reporter.end()
    out_dir = request.out or ws.home / "outputs"
    takes = []
    with ws.session("generate.record") as s:
        model = find_model(s, model_label)
        guard = _guard(s, ws)
        stamper = Stamper(ws, s)
        for i, take in enumerate(frames):
            after = guard.check_frames(take)
            seed = settings.seeds[i]
            if not after.allowed:
                takes.append({"take": i + 1, "seed": seed, "refused": after.reasons})
                continue
            params = request.params() | {"take": i + 1, "output_frames": len(take), "fps": geom.fps,
                                         "size": [geom.width, geom.height], "model_prompt": prompt,
                                         "model_negative": negative}  # fmt: skip
            stamped = stamper.stamp(model=model, request=request, seed=seed, params=params, frames=take,
                                    fps=geom.fps, out_dir=out_dir, take=i + 1, parent_id=parent,
                                    still=request.still, name=_file_prefix(request, i))  # fmt: skip
            for check_id in [*checks, after.check_id]:
                s.get(LikenessCheck, check_id).generation_id = stamped["record"]
            doc = stamped | {"take": i + 1, "seed": seed, "frames": len(take), "size": [geom.width, geom.height]}
            if request.loop:
                doc["loop_seam"] = round(loop_seam(take), 3)
            takes.append(doc)
    return {"model": model_label, "mode": request.mode, "kind": request.kind, "preview": request.preview,
            "final_of": parent, "prompt": request.prompt, "steps": settings.steps, "fps": geom.fps, "takes": takes,
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def _file_prefix(request: GenerateRequest, index: int) -> str | None:
    """The caller's prefix ("take03" for a storyboard's third take), numbered when it asked for several takes."""
    if not request.file_prefix:
        return None
    return request.file_prefix if request.takes == 1 else f"{request.file_prefix}-{index + 1:02d}"


def _guard(s, ws: Workspace) -> LikenessGuard:
    return LikenessGuard(s, ws.settings.tenant, ws.actor, territory=ws.settings.territory, store=ws.store,
                         unknown_faces=ws.settings.unknown_faces)  # fmt: skip


def _check_model(s, ws: Workspace, model: StudioModel) -> None:
    """Refuse a model of another tenant, one marked affected, or one whose titles no longer allow generation."""
    if model.tenant != ws.settings.tenant:
        raise RefusedError(f"model {model.label}", [f"it belongs to tenant {model.tenant!r}, "
                                                    f"not {ws.settings.tenant!r}"])  # fmt: skip
    if model.status == AFFECTED:
        raise RefusedError(f"model {model.label}", [f"it is marked affected: {model.status_note}"])
    problems = []
    for grant in model.grants:
        decision = policy.allowed(s.get(Title, grant.title_id), "generate", territory=ws.settings.territory)
        if not decision.ok:
            problems.append(decision.reason)
    if problems:
        raise RefusedError(f"model {model.label}", problems)


def _from_preview(ws: Workspace, request: GenerateRequest) -> tuple[GenerateRequest, str, Path | None]:
    """A `--final` request: the preview take's prompt, seed and inputs at full quality, initialised from the
    preview itself when sizes differ so the composition carries over."""
    with ws.session("generate.read") as s:
        record = find_record(s, request.final or "")
        p = record.params
        if not p.get("preview"):
            raise ValueError(f"{record.id} is not a preview take; --final finishes a take made with --preview")
        model = find_model(s, record.model_id)
        outputs = [o for o in record.outputs if o.get("format") == "mp4"] or record.outputs
        preview_file = ws.home / outputs[0]["path"] if outputs else None
    final = replace(request, prompt=record.prompt, model=model.label, negative=record.negative_prompt,
                    seed=record.seed, takes=1, guidance=p["guidance"], frames=p.get("frames"),
                    image=_path(p.get("image")), keyframes=[(t, Path(f)) for t, f in p.get("keyframes", [])],
                    extend=_path(p.get("extend")), video=_path(p.get("video")), strength=p.get("strength", 0.6),
                    element=p.get("element", False), plate=p.get("plate", False), loop=p.get("loop", False),
                    preview=False, final=record.id, size=request.size)  # fmt: skip
    return final, record.id, preview_file


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _bundle(folder: Path, device: str) -> ModelBundle:
    key = f"{folder}|{device}"
    if key not in _BUNDLES:
        _BUNDLES[key] = load_bundle(folder, device)
    return _BUNDLES[key]


def _reference_frames(path: Path) -> np.ndarray:
    """The first seconds of a reference clip at its own size, for the likeness guard; a clear error if unreadable."""
    try:
        return read_frames(path, max_frames=REFERENCE_FRAMES)
    except (av.error.FFmpegError, ValueError) as exc:
        raise InputError(str(path), f"not a readable video: {exc}") from exc


REFERENCE_FRAMES = 48


def _geometry(bundle: ModelBundle, request: GenerateRequest) -> Geometry:
    """The output size: asked, else the main bucket; a preview takes the model's smallest bucket of about the
    main one's aspect when it has one (else the main size, with fewer steps)."""
    if request.size or not request.preview:
        return model_geometry(bundle, request.size, request.frames)
    main = buckets(bundle)[0]
    smaller = [b for b in buckets(bundle)[1:] if b[1] * b[2] < main[1] * main[2]
               and abs(b[2] / b[1] - main[2] / main[1]) < 0.1 * main[2] / main[1]]  # fmt: skip
    pick = min(smaller, key=lambda b: b[1] * b[2]) if smaller else main
    return model_geometry(bundle, (pick[2], pick[1]), request.frames)


def _inputs(request: GenerateRequest, geom: Geometry, preview_file: Path | None) -> RenderInputs:
    """Reference files read and fitted to the output geometry; a final starts from its preview's frames."""
    keyframes = [(0.0, load_image(request.image, geom.width, geom.height))] if request.image else []
    keyframes += [(t, load_image(p, geom.width, geom.height)) for t, p in request.keyframes]
    inputs = RenderInputs(keyframes=keyframes, start_black=request.element)
    if request.extend:
        inputs.extend = load_clip(request.extend, geom)
    if request.video:
        inputs.video, inputs.strength = load_clip(request.video, geom), request.strength
    if preview_file is not None and inputs.video is None and inputs.extend is None:
        inputs.video = load_clip(preview_file, geom)  # already fitted to the final's size
        inputs.strength = FINAL_FROM_PREVIEW
    return inputs


# How much of the noise schedule a final re-runs over its preview: high enough to add the detail a few-step,
# smaller preview lacks, low enough that layout, colours and motion stay those of the chosen take.
FINAL_FROM_PREVIEW = 0.8
