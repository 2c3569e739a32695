"""Typed ingest configuration. The processing hash covers what changes clips; filters and captions do not."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PIPELINE_VERSION = "ingest-1"


@dataclass(frozen=True)
class ShotConfig:
    """Shot detection: PySceneDetect's AdaptiveDetector on small frames (tier 1) and TransNetV2 (tier 2)."""

    analysis_width: int = 96  # px width of the per-frame analysis image, taken from the decoded planes
    adaptive_threshold: float = 2.5  # tuned on the samples' approximate cuts and the synthetic film
    min_content_val: float = 15.0
    min_scene_frames: int = 3
    flash_threshold: float = 10.0  # a "cut" whose picture returns within 2 frames (mean abs diff) is a flash
    transnet: str = "auto"  # auto: on where a GPU is present; on; off
    transnet_threshold: float = 0.5


@dataclass(frozen=True)
class ClipConfig:
    """Training clips: fixed frame rate and short side, lengths of 4k+1 frames, letterbox cropped."""

    fps: int = 16
    short_side: int = 144
    min_seconds: float = 0.3  # shorter shot remainders make no clip at all
    max_seconds: float = 5.0
    crop_letterbox: bool = True
    crf: int = 18

    @property
    def max_frames(self) -> int:
        return four_k_plus_one(int(self.max_seconds * self.fps))

    @property
    def min_frames(self) -> int:
        return max(5, four_k_plus_one(int(self.min_seconds * self.fps)))


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds of the filters. Verdicts are recomputed from stored scores, so changing these is cheap."""

    min_seconds: float | None = 1.0  # too short
    black_luma: float | None = 0.07  # black: the brightest sampled frame is darker than this (0..1)
    fade_range: float | None = 0.25  # fade: mean luma ramps by more than this towards black
    static_motion: float | None = 0.004  # static: mean optical flow below this (frame widths per second)
    blur_sharpness: float | None = 12.0  # blurry: variance of the Laplacian below this at clip resolution
    text_coverage: float | None = 0.06  # text-heavy: text-like regions cover more than this of the frame
    near_duplicate_bits: int | None = 6  # near-duplicate: perceptual hashes within this Hamming distance
    reject_spans: bool = True  # clips inside credits and title spans

    def with_overrides(self, spec: str) -> FilterConfig:
        """Apply `name=value,...`; `name=off` disables a filter (e.g. `text_coverage=off,min_seconds=2`)."""
        changes: dict[str, Any] = {}
        names = {f.name: f for f in fields(self)}
        for item in filter(None, (p.strip() for p in spec.split(","))):
            name, _, value = item.partition("=")
            name = name.strip()
            if name not in names:
                raise ValueError(f"unknown filter {name!r}: one of {', '.join(names)}")
            value = value.strip().lower()
            if name == "reject_spans":
                changes[name] = value not in ("off", "false", "no", "0")
            elif value in ("off", "none"):
                changes[name] = None
            else:
                try:
                    changes[name] = int(value) if name == "near_duplicate_bits" else float(value)
                except ValueError as exc:
                    raise ValueError(f"filter {name}: {value!r} is not a number (or off)") from exc
        return replace(self, **changes)


@dataclass(frozen=True)
class CaptionConfig:
    """Which captioner writes the caption column; a new captioner adds a column, it never overwrites one."""

    captioner: str = "structured-v1"


@dataclass(frozen=True)
class IngestConfig:
    shots: ShotConfig = field(default_factory=ShotConfig)
    clips: ClipConfig = field(default_factory=ClipConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    captions: CaptionConfig = field(default_factory=CaptionConfig)

    def resolved(self, gpu: bool) -> IngestConfig:
        """`transnet=auto` decided for this machine: the TransNetV2 tier runs by default only on a GPU."""
        if self.shots.transnet != "auto":
            return self
        return replace(self, shots=replace(self.shots, transnet="on" if gpu else "off"))

    def processing_hash(self) -> str:
        """Identifies how clips are cut and measured: the key of completion markers and clip ids."""
        if self.shots.transnet == "auto":
            raise ValueError("resolve transnet=auto (IngestConfig.resolved) before hashing")
        payload = {"version": PIPELINE_VERSION, "shots": asdict(self.shots), "clips": asdict(self.clips)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def four_k_plus_one(n: int) -> int:
    """The largest 4k+1 not above n (video VAEs compress time by 4 and keep the first frame): 17, 33, 81."""
    return max(1, ((n - 1) // 4) * 4 + 1)
