"""Faces for the likeness guard: detection, performers' reference faces, and the matcher interface.

Detection uses OpenCV's Haar cascades (frontal and profile), which ship inside OpenCV 4.x wheels and need
nothing downloaded. Telling *whose* face it is needs a face-recognition model; none with commercial terms
ships offline, so matching stays behind `FaceMatcher`, which a studio's licensed model fills.
`SFaceMatcher` wraps OpenCV's SFace for a user who has its ONNX file locally.

Reference faces: `add_reference_face` stores the image in the workspace's object store (content-addressed,
by sha256) and records a `PerformerFace` row (performer, sha256, face box); `reference_faces` lists them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Performer
from cinefoundry.core.errors import CinefoundryError, InputError
from cinefoundry.core.store import ObjectStore
from cinefoundry.provenance.models import PerformerFace

FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"  # fewer false faces than _default on the sample films
PROFILE_CASCADE = "haarcascade_profileface.xml"  # left-facing profiles; the image is mirrored for the others


@dataclass(frozen=True)
class FaceBox:
    """A face found in an image: pixel box (x, y, w, h) and which cascade found it."""

    x: int
    y: int
    w: int
    h: int
    kind: str = "frontal"  # frontal | profile

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The face's pixels in `image` (a view, not a copy)."""
        return image[self.y : self.y + self.h, self.x : self.x + self.w]


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in a BGR uint8 image (H, W, 3)."""

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]: ...


@dataclass(frozen=True, eq=False)
class ReferenceFace:
    """A registered face of a performer; `image()` reads it from the store and returns the face crop (BGR)."""

    performer_id: str
    sha256: str
    box: tuple[int, int, int, int]
    store: ObjectStore = field(repr=False)

    def image(self) -> np.ndarray:
        """The face crop, BGR uint8, read from the object store."""
        with self.store.open(self.sha256) as f:
            full = decode_image(f.read(), self.sha256)
        x, y, w, h = self.box
        return full[y : y + h, x : x + w]


@runtime_checkable
class FaceMatcher(Protocol):
    """Says which performers a face belongs to: `(performer_id, score)` for each reference the model accepts.

    The matcher owns its threshold: it returns only matches it judges to be the same person. Implementations
    should cache reference embeddings by `ReferenceFace.sha256`.
    """

    def match(self, face_bgr: np.ndarray, references: Sequence[ReferenceFace]) -> list[tuple[str, float]]: ...


class FaceDetectionUnavailable(CinefoundryError):
    """This OpenCV build cannot run the Haar cascades."""


class HaarFaceDetector:
    """OpenCV Haar cascades, frontal and profile (both directions), merged by overlap.

    `min_face` is the smallest face side as a fraction of the image's shorter side: smaller faces are hardly
    a likeness, and skipping them keeps a check fast. Images are first scaled down to `work_side` px.
    """

    def __init__(
        self,
        cascade_dir: str | Path | None = None,
        scale_factor: float = 1.2,
        min_neighbors: int = 5,
        min_face: float = 0.08,
        work_side: int = 240,
    ):
        if not hasattr(cv2, "CascadeClassifier"):
            raise FaceDetectionUnavailable(
                f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 dropped the Haar cascades): "
                "install opencv-python-headless<5, or give the guard another FaceDetector"
            )
        folder = Path(cascade_dir or cv2.data.haarcascades)
        self.cascades = [
            (_cascade(folder / FRONTAL_CASCADE), "frontal"),
            (_cascade(folder / PROFILE_CASCADE), "profile"),
        ]
        self.scale_factor, self.min_neighbors, self.min_face = scale_factor, min_neighbors, min_face
        self.work_side = work_side

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        """Faces in a BGR image, boxes in its own pixel coordinates."""
        grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        # Cascade cost grows with pixels; a face big enough to matter survives the downscale.
        scale = min(1.0, self.work_side / min(grey.shape))
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        width = grey.shape[1]
        side = max(20, int(self.min_face * min(grey.shape)))
        found: list[FaceBox] = []
        for cascade, kind in self.cascades:
            for mirrored in (False, True) if kind == "profile" else (False,):
                view = np.ascontiguousarray(grey[:, ::-1]) if mirrored else grey
                boxes = cascade.detectMultiScale(view, self.scale_factor, self.min_neighbors, minSize=(side, side))
                for x, y, w, h in np.asarray(boxes, dtype=int).reshape(-1, 4).tolist():
                    x = width - x - w if mirrored else x
                    found.append(FaceBox(*(round(v / scale) for v in (x, y, w, h)), kind))
        return _merge(found)


def _cascade(path: Path) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise FaceDetectionUnavailable(f"{path}: not a readable Haar cascade")
    return cascade


def _merge(boxes: list[FaceBox], overlap: float = 0.3) -> list[FaceBox]:
    """One box per face: the same face seen by several cascades keeps the first (frontal) box."""
    kept: list[FaceBox] = []
    for b in boxes:
        if all(_iou(b, k) <= overlap for k in kept):
            kept.append(b)
    return kept


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    return inter / float(a.w * a.h + b.w * b.h - inter)


def decode_image(data: bytes, source: str) -> np.ndarray:
    """Decode image bytes (PNG, JPEG, ...) to BGR uint8 (H, W, 3); an unreadable file is an input error."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(source, "not an image OpenCV can decode")
    return image


def add_reference_face(
    s: Session,
    store: ObjectStore,
    performer: Performer,
    path: str | Path,
    actor: str,
    box: tuple[int, int, int, int] | None = None,
    detector: FaceDetector | None = None,
) -> PerformerFace:
    """Register a reference image of `performer`'s face; the face is the largest one detected, or `box`.

    The same image registered twice for the same performer is recorded once.
    """
    data = Path(path).read_bytes()
    image = decode_image(data, str(path))
    sha = hashlib.sha256(data).hexdigest()
    existing = s.scalar(select(PerformerFace).where(PerformerFace.performer_id == performer.id,
                                                    PerformerFace.sha256 == sha))  # fmt: skip
    if existing is not None:
        return existing
    if box is None:
        faces = (detector or HaarFaceDetector()).detect(image)
        if not faces:
            raise InputError(str(path), f"no face found to register for {performer.name}; pass the face's box")
        largest = max(faces, key=lambda f: f.w * f.h)
        box = (largest.x, largest.y, largest.w, largest.h)
    store.put_bytes(data)
    record = PerformerFace(performer_id=performer.id, sha256=sha, box=[int(v) for v in box], width=image.shape[1],
                           height=image.shape[0], source=str(path), created_by=actor)  # fmt: skip
    s.add(record)
    s.flush()
    return record


def reference_faces(s: Session, store: ObjectStore) -> list[ReferenceFace]:
    """Every registered reference face, oldest first."""
    rows = s.scalars(select(PerformerFace).order_by(PerformerFace.id))
    return [ReferenceFace(r.performer_id, r.sha256, tuple(r.box), store) for r in rows]


class SFaceMatcher:
    """OpenCV's SFace recogniser (`cv2.FaceRecognizerSF`) from a local ONNX file; cosine threshold 0.363.

    The threshold is OpenCV's published one for SFace. Faces are resized to 112x112 without landmark
    alignment, which costs accuracy; not exercised by the tests (the model file cannot be fetched here).
    """

    def __init__(self, model_path: str | Path, threshold: float = 0.363):
        if not Path(model_path).is_file():
            raise InputError(str(model_path), "SFace ONNX model not found")
        self.recognizer = cv2.FaceRecognizerSF.create(str(model_path), "")
        self.threshold = threshold
        self._features: dict[str, np.ndarray] = {}  # reference sha256 -> embedding (1, 128)

    def embed(self, face_bgr: np.ndarray) -> np.ndarray:
        """SFace embedding (1, 128) of a face crop."""
        return self.recognizer.feature(cv2.resize(face_bgr, (112, 112))).copy()

    def match(self, face_bgr: np.ndarray, references: Sequence[ReferenceFace]) -> list[tuple[str, float]]:
        """Best cosine score per performer, for those at or above the threshold, best first."""
        query = self.embed(face_bgr)
        best: dict[str, float] = {}
        for ref in references:
            if ref.sha256 not in self._features:
                self._features[ref.sha256] = self.embed(ref.image())
            score = float(self.recognizer.match(query, self._features[ref.sha256], cv2.FaceRecognizerSF_FR_COSINE))
            if score >= self.threshold and score > best.get(ref.performer_id, -1.0):
                best[ref.performer_id] = score
        return sorted(best.items(), key=lambda kv: -kv[1])
