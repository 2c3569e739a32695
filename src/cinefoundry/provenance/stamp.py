"""Turning rendered frames into delivered files: record first, then watermark, export, sign.

The record is inserted before anything is written so its watermark id can be marked into every frame and
named in the manifest; the record then lists each file with its sha256 (after signing, so the hash is of
the file as delivered). A non-MP4 delivery also gets an MP4 viewing copy, marked and signed the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from cinefoundry.generate.export import element_white_point, luma_key, write_output
from cinefoundry.generate.request import GenerateRequest
from cinefoundry.provenance.manifest import (
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestSpec,
    embeds,
    mime_for,
    sidecar_path,
    sign_file,
)
from cinefoundry.provenance.models import GenerationRecord
from cinefoundry.provenance.pki import signer_config
from cinefoundry.provenance.records import create_record, sha256_file
from cinefoundry.provenance.watermark import Watermarker, default_watermarker
from cinefoundry.registry.models import StudioModel
from cinefoundry.workspace import Workspace


class Stamper:
    """Writes takes as marked, signed, recorded files within one database session."""

    def __init__(self, ws: Workspace, session: Session, watermarker: Watermarker | None = None):
        self.ws, self.session = ws, session
        self.watermarker = watermarker or default_watermarker()
        self.config = signer_config(ws.home, ws.settings)

    def stamp(self, *, model: StudioModel, request: GenerateRequest, seed: int, params: dict[str, Any],
              frames: np.ndarray, fps: int, out_dir: Path, take: int, parent_id: str | None = None,
              name: str | None = None, still: bool = False) -> dict[str, Any]:  # fmt: skip
        """Record, mark, write and sign one take (frames (F, H, W, 3) uint8); returns the record id and files.

        `still` also delivers the middle frame as a PNG keyframe (a storyboard panel), marked and signed too;
        files are named "<name or takeNN>_<record id>".
        """
        inputs = {role: Path(p) for role, p in request.input_files()}
        record = create_record(self.session, model=model, tenant=self.ws.settings.tenant, actor=self.ws.actor,
                               mode=request.mode, prompt=request.prompt, negative_prompt=request.negative, seed=seed,
                               params=params, inputs=inputs, parent_id=parent_id)  # fmt: skip
        stem = out_dir / f"{name or f'take{take:02d}'}_{record.id}"
        outputs = self.deliver(record, model, frames, fps, stem, request.fmt, element=request.element, still=still)
        return {"record": record.id, "watermark_id": record.watermark_id, "outputs": outputs}

    def deliver(self, record: GenerationRecord, model: StudioModel, frames: np.ndarray, fps: int, stem: Path,
                fmt: str = "mp4", *, element: bool = False, still: bool = False,
                source_type: str = TRAINED_ALGORITHMIC_MEDIA) -> list[dict[str, Any]]:  # fmt: skip
        """Mark `frames` with the record's id, write them as `fmt` (plus an MP4 viewing copy), sign every file."""
        marked = self.watermarker.embed(frames, int(record.watermark_id, 16))
        data = luma_key(marked, white=element_white_point(marked)) if element else marked
        written = write_output(stem, data, fps, fmt)
        if fmt != "mp4":
            written += write_output(stem.with_name(stem.name + "_view"), marked, fps, "mp4")
        if still:
            key = stem.with_name(stem.name + "_key.png")
            Image.fromarray(marked[len(marked) // 2]).save(key)
            written.append(key)
        spec = _spec(record, model, source_type)
        outputs = []
        for path in written:
            sign_file(path, path, spec, self.config)
            outputs.append(self._entry(path))
        record.outputs = [*record.outputs, *outputs]
        self.session.flush()
        return outputs

    def sign_written(self, record: GenerationRecord, model: StudioModel, path: Path,
                     source_type: str = TRAINED_ALGORITHMIC_MEDIA) -> list[dict[str, Any]]:  # fmt: skip
        """Sign and record a file its writer already marked with the record's id (an animatic: `mark_frame`)."""
        sign_file(path, path, _spec(record, model, source_type), self.config)
        outputs = [self._entry(path)]
        record.outputs = [*record.outputs, *outputs]
        self.session.flush()
        return outputs

    def mark_frame(self, record: GenerationRecord) -> Callable[[np.ndarray], np.ndarray]:
        """(H, W, 3) uint8 -> the same frame carrying the record's watermark id."""
        payload = int(record.watermark_id, 16)
        return lambda rgb: self.watermarker.embed(rgb[None], payload)[0]

    def _entry(self, path: Path) -> dict[str, Any]:
        """A delivered file: path (relative to the workspace when inside it), sha256, format, manifest kind."""
        mime = mime_for(path)
        entry = {"path": _display(path, self.ws.home), "sha256": sha256_file(path), "format": _format(path),
                 "manifest": "embedded" if embeds(mime) else "sidecar"}  # fmt: skip
        if entry["manifest"] == "sidecar":
            entry["sidecar"] = _display(sidecar_path(path), self.ws.home)
        return entry


def _spec(record: GenerationRecord, model: StudioModel, source_type: str) -> ManifestSpec:
    """What the manifest of every file of `record` states."""
    return ManifestSpec(model_id=model.label, record_id=record.id, watermark_id=record.watermark_id,
                        prompt_sha256=record.prompt_sha256, licence=record.licence,
                        attributions=list(record.attributions), source_type=source_type)  # fmt: skip


def _format(path: Path) -> str:
    return {".mp4": "mp4", ".png": "png", ".exr": "exr", ".mov": "prores"}.get(path.suffix.lower(), path.suffix[1:])


def _display(path: Path, home: Path) -> str:
    path = path.resolve()
    try:
        return str(path.relative_to(home.resolve()))
    except ValueError:
        return str(path)
