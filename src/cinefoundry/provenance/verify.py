"""`verify(ws, path)`: what a file says about where it came from, by two independent routes.

The C2PA manifest (Trusted, Valid, Invalid with codes, or Missing) and the invisible watermark, whose id
resolves to the generation record. A re-encode strips the manifest but not the watermark, so a file passed
through an editor or a website still leads back to its record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cinefoundry.core.errors import InputError
from cinefoundry.provenance.frames import read_frames
from cinefoundry.provenance.manifest import verify_file
from cinefoundry.provenance.pki import signer_config
from cinefoundry.provenance.records import record_by_watermark
from cinefoundry.provenance.watermark import default_watermarker
from cinefoundry.workspace import Workspace

# Frames read for the watermark: every frame of a generated clip, enough of a long re-encoded file.
MAX_FRAMES = 240


def verify(ws: Workspace, path: Path) -> dict[str, Any]:
    """Manifest report, watermark detection and the record it resolves to, as a JSON-ready dict."""
    if not path.exists():
        raise InputError(str(path), "no such file")
    target = _first_frame_file(path)
    manifest = verify_file(target, signer_config(ws.home, ws.settings).anchors_pem()).as_dict()
    detection = default_watermarker().detect(read_frames(target, max_frames=MAX_FRAMES))
    doc: dict[str, Any] = {"file": str(path), "manifest": manifest,
                           "watermark": {"found": detection.payload is not None,
                                         "id": f"{detection.payload:016x}" if detection.payload is not None else None,
                                         "confidence": round(float(detection.bit_accuracy_hint), 3),
                                         "frames": detection.frames_used}}  # fmt: skip
    record = None
    if detection.payload is not None:
        with ws.session("provenance.verify") as s:
            found = record_by_watermark(s, detection.payload)
            record = found.as_dict() if found else None
    doc["record"] = record
    doc["consistent"] = _consistent(manifest, doc["watermark"]["id"])
    return doc


def _first_frame_file(path: Path) -> Path:
    """A PNG or EXR sequence is verified through its first frame (each frame carries mark and manifest)."""
    if path.is_dir():
        frames = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".exr"))
        if not frames:
            raise InputError(str(path), "a folder with no PNG or EXR frames")
        return frames[0]
    return path


def _consistent(manifest: dict[str, Any], watermark_id: str | None) -> bool | None:
    """Do the manifest and the watermark name the same record? None when one of them is absent."""
    claimed = (manifest.get("generation") or {}).get("watermark_id")
    if not claimed or not watermark_id:
        return None
    return claimed == watermark_id
