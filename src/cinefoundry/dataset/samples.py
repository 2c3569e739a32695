"""Training samples of a dataset version: clip videos decoded into fixed-size windows, split by clip.

A window is `frames` frames at the version's fps and size, centre-cropped to the target aspect. Held-out
clips (a fixed fraction of each title's clips, chosen by hash) never reach training; evaluation reads them.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field, replace
from typing import Any

import av
import cv2
import numpy as np

from cinefoundry.core.errors import MediaError
from cinefoundry.core.store import ObjectStore
from cinefoundry.dataset.build import read_manifest
from cinefoundry.dataset.models import DatasetVersion
from cinefoundry.ingest.catalog import ClipCatalog


@dataclass(frozen=True)
class WindowSpec:
    """How windows are cut: `frames` at `fps`, `width`x`height`, a new window every `stride` frames."""

    width: int
    height: int
    frames: int
    fps: int
    stride: int

    @classmethod
    def of(cls, version: DatasetVersion, stride: int | None = None) -> WindowSpec:
        st = version.settings
        return cls(st["width"], st["height"], st["frames"], st["fps"], stride or max(1, (st["frames"] - 1) // 2))


@dataclass
class Windows:
    """Decoded windows: `videos` (N, F, H, W, 3) uint8 RGB, with per-window lineage and split."""

    videos: np.ndarray
    clip_ids: list[str]
    title_ids: list[str]
    captions: list[str]
    starts_s: list[float]
    held_out: np.ndarray  # (N,) bool
    spec: WindowSpec
    titles: list[str] = field(default_factory=list)  # sorted title ids: the class index of each title

    def __len__(self) -> int:
        return len(self.clip_ids)

    def subset(self, mask: np.ndarray) -> Windows:
        idx = np.flatnonzero(mask)
        pick = [self.clip_ids[i] for i in idx]
        return Windows(self.videos[idx], pick, [self.title_ids[i] for i in idx], [self.captions[i] for i in idx],
                       [self.starts_s[i] for i in idx], self.held_out[idx], self.spec, self.titles)  # fmt: skip

    @property
    def train(self) -> Windows:
        return self.subset(~self.held_out)

    @property
    def evaluation(self) -> Windows:
        return self.subset(self.held_out)

    def at(self, frames: int, height: int, width: int) -> Windows:
        """The same windows in another (frames, height, width) bucket: the first `frames` frames, centre-cropped
        to the bucket's aspect and scaled by area (so a 2.39:1 bucket is cut from square windows, not squeezed)."""
        if frames > self.spec.frames:
            raise ValueError(f"bucket of {frames} frames is longer than the {self.spec.frames}-frame windows")
        v = self.videos[:, :frames]
        h, w = v.shape[2:4]
        if w * height > h * width:  # wider than the bucket: crop the sides
            cw = round(h * width / height)
            v = v[:, :, :, (w - cw) // 2 : (w - cw) // 2 + cw]
        elif w * height < h * width:  # taller: crop top and bottom
            ch = round(w * height / width)
            v = v[:, :, (h - ch) // 2 : (h - ch) // 2 + ch]
        if v.shape[2:4] != (height, width):
            flat = v.reshape(-1, *v.shape[2:])
            v = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in flat])
            v = v.reshape(len(self), frames, height, width, 3)
        spec = replace(self.spec, frames=frames, height=height, width=width)
        return Windows(np.ascontiguousarray(v), self.clip_ids, self.title_ids, self.captions, self.starts_s,
                       self.held_out, spec, self.titles)  # fmt: skip

    def distinct(self) -> Windows:
        """The windows of each clip that start a whole window apart: every frame once (windows cut at stride 1
        overlap, and would count the same frames many times)."""
        keep, last = np.zeros(len(self), dtype=bool), {}
        gap = (self.spec.frames - 1) / self.spec.fps - 1e-6
        for i, (clip, start) in enumerate(zip(self.clip_ids, self.starts_s, strict=True)):
            if clip not in last or start - last[clip] >= gap:
                keep[i], last[clip] = True, start
        return self.subset(keep)

    def labels(self) -> np.ndarray:
        """The class index of each window's title."""
        return np.array([self.titles.index(t) for t in self.title_ids], dtype=np.int64)


_SIDES = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def mirror_videos(videos: np.ndarray) -> np.ndarray:
    """Windows (N, F, H, W, 3) flipped left to right; their captions go through `mirror_caption`."""
    return np.ascontiguousarray(videos[:, :, :, ::-1])


def mirror_caption(caption: str) -> str:
    """The caption of the mirrored picture: 'pans left' becomes 'pans right', and the other way round."""
    return re.sub(r"\b(left|right|Left|Right|LEFT|RIGHT)\b", lambda m: _SIDES[m.group(1)], caption)


def held_out_clips(rows: list[dict[str, Any]], fraction: float, seed: int = 0) -> set[str]:
    """Per title, the clips held out for evaluation: `fraction` of them (at least one when a title has 3+)."""
    by_title: dict[str, list[str]] = {}
    for r in rows:
        by_title.setdefault(r["title_id"], []).append(r["clip_id"])
    out = set()
    for ids in by_title.values():
        if fraction <= 0 or len(ids) < 3:
            continue
        ranked = sorted(ids, key=lambda c: hashlib.sha256(f"{seed}:{c}".encode()).hexdigest())
        out.update(ranked[: max(1, round(fraction * len(ids)))])
    return out


def load_windows(
    catalog: ClipCatalog, store: ObjectStore, version: DatasetVersion, spec: WindowSpec, holdout: float = 0.15
) -> Windows:
    """Decode every clip of `version` (at its pinned catalog version) into windows."""
    rows = read_manifest(store, version.manifest_sha256)
    held = held_out_clips(rows, holdout)
    blobs = catalog.videos([r["clip_id"] for r in rows], version=version.catalog_version)
    videos, clip_ids, title_ids, captions, starts, flags = [], [], [], [], [], []
    for r in rows:
        frames = decode_resampled(blobs[r["clip_id"]], spec, source=r["clip_id"])
        for start in range(0, len(frames) - spec.frames + 1, spec.stride):
            videos.append(frames[start : start + spec.frames])
            clip_ids.append(r["clip_id"])
            title_ids.append(r["title_id"])
            captions.append(r["caption"] or "")
            starts.append(r["start_s"] + start / spec.fps)
            flags.append(r["clip_id"] in held)
    if not videos:
        raise MediaError(f"dataset {version.label}: no clip is long enough for {spec.frames} frames at {spec.fps} fps")
    stacked = np.stack(videos)
    return Windows(stacked, clip_ids, title_ids, captions, starts, np.array(flags), spec, sorted(set(title_ids)))


def decode_resampled(data: bytes, spec: WindowSpec, source: str = "clip") -> np.ndarray:
    """All frames of an encoded clip at `spec.fps`, centre-cropped and resized: (T, H, W, 3) uint8 RGB."""
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or spec.fps)
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except (av.FFmpegError, IndexError) as exc:
        raise MediaError(f"{source}: cannot decode the clip video: {exc}") from exc
    count = int(len(decoded) / rate * spec.fps + 1e-6)
    picks = [min(len(decoded) - 1, round(k * rate / spec.fps)) for k in range(count)]
    return np.stack([fit(decoded[i], spec.width, spec.height) for i in picks]) if picks else np.zeros((0,))


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop `frame` to the aspect of width x height, then resize with area averaging (anti-aliased)."""
    h, w = frame.shape[:2]
    target = width / height
    if w / h > target:
        cw = round(h * target)
        frame = frame[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = round(w / target)
        frame = frame[(h - ch) // 2 : (h - ch) // 2 + ch]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
