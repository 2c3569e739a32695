"""Rendering takes with `StudioPipeline`, mode by mode; no database, no files: arrays in, arrays out.

Shots longer than one training window are chained: each next window gets the last frames of the shot so far
as clean conditioning (the model was trained with such prefixes) and the overlap is cross-faded, so joins
show no seam. A loopable plate is rendered twice: the second pass is pinned to end on its own first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from cinefoundry.generate.conditions import (
    Geometry,
    clip_latents,
    keyframe_condition,
    prefix_condition,
    still_latents,
)
from cinefoundry.generate.export import to_frames
from cinefoundry.generate.pipeline import StudioPipeline

OVERLAP_LATENTS = 3  # latent frames of the shot so far that start each chained window


@dataclass
class RenderInputs:
    """Pixel inputs already fitted to the output geometry (uint8 RGB)."""

    keyframes: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (seconds, (H, W, 3))
    extend: np.ndarray | None = None  # (F, H, W, 3): the clip to continue
    video: np.ndarray | None = None  # (F, H, W, 3): the clip to re-render
    strength: float = 1.0
    start_black: bool = False  # an element starts from black, as an explosion or a burst of sparks does


@dataclass
class RenderSettings:
    prompt: str
    negative: str
    seeds: list[int]
    steps: int
    guidance: float
    total_frames: int  # may exceed the window: windows are chained
    loop: bool = False


class TakeRenderer:
    """Renders N takes of one request; `on_step` ticks once per denoising step of every window."""

    def __init__(self, pipe: StudioPipeline, geom: Geometry, on_step: Callable[[], None] | None = None):
        self.pipe, self.geom, self.on_step = pipe, geom, on_step
        self.bundle = pipe.bundle

    def windows_needed(self, total_frames: int, loop: bool = False) -> int:
        """How many pipeline windows a shot of `total_frames` takes (for progress totals)."""
        new = self.geom.frames - self._overlap_frames()
        extra = max(0, total_frames - self.geom.frames)
        return 1 + -(-extra // new) + (1 if loop else 0)

    def render(self, settings: RenderSettings, inputs: RenderInputs) -> list[np.ndarray]:
        """(F, H, W, 3) uint8 per take."""
        n = len(settings.seeds)
        if inputs.extend is not None:
            shots = [inputs.extend.copy() for _ in range(n)]
            target = len(inputs.extend) + settings.total_frames
        else:
            shots = self._first_window(settings, inputs)
            target = settings.total_frames
        window = 1
        while len(shots[0]) < target:
            shots = self._extend(shots, settings, window)
            window += 1
        shots = [s[:target] for s in shots]
        if settings.loop:
            shots = self._close_loop(shots, settings)
        return shots

    def _run(self, settings: RenderSettings, seeds: list[int], cond: tuple[torch.Tensor, torch.Tensor] | None,
             init: torch.Tensor | None = None, strength: float = 1.0) -> list[np.ndarray]:  # fmt: skip
        n = len(seeds)
        cl = cm = None
        if cond is not None:  # one condition for every take, or one per take (a leading batch dimension)
            cl, cm = cond if cond[0].dim() == 5 else (cond[0][None].expand(n, -1, -1, -1, -1),
                                                     cond[1][None].expand(n, -1))  # fmt: skip
        il = init[None].expand(n, -1, -1, -1, -1) if init is not None else None
        video = self.pipe([settings.prompt] * n, negative_prompt=settings.negative, seeds=seeds, steps=settings.steps,
                          guidance=settings.guidance, cond_latents=cl, cond_mask=cm, init_latents=il,
                          strength=strength, latent_shape=self.geom.latent, on_step=self.on_step)  # fmt: skip
        return [to_frames(v) for v in video]

    def _first_window(self, settings: RenderSettings, inputs: RenderInputs) -> list[np.ndarray]:
        keyframes = list(inputs.keyframes)
        if inputs.start_black and not keyframes:
            keyframes = [(0.0, np.zeros((self.geom.height, self.geom.width, 3), np.uint8))]
        cond = keyframe_condition(self.bundle, self.geom, keyframes) if keyframes else None
        if inputs.video is not None:
            clip = _fit_length(inputs.video, self.geom.frames)
            init = clip_latents(self.bundle, clip)
            return self._run(settings, settings.seeds, cond, init, inputs.strength)
        return self._run(settings, settings.seeds, cond)

    def _overlap_frames(self) -> int:
        tf = self.bundle.recipe.vae.temporal_factor
        return 1 + tf * (min(OVERLAP_LATENTS, self.geom.latent[1] - 1) - 1)

    def _extend(self, shots: list[np.ndarray], settings: RenderSettings, window: int) -> list[np.ndarray]:
        """One more window per take, conditioned on each take's own last frames; the overlap is cross-faded."""
        k = self._overlap_frames()
        conds = [prefix_condition(self.bundle, self.geom, shot[-k:]) for shot in shots]
        cond = torch.stack([c for c, _ in conds]), torch.stack([m for _, m in conds])
        news = self._run(settings, [seed + 7919 * window for seed in settings.seeds], cond)
        ramp = np.linspace(0.0, 1.0, k + 2)[1:-1, None, None, None]
        out = []
        for shot, new in zip(shots, news, strict=True):
            blended = (shot[-k:] * (1 - ramp) + new[:k] * ramp).round().astype(np.uint8)
            out.append(np.concatenate([shot[:-k], blended, new[k:]]))
        return out

    def _close_loop(self, shots: list[np.ndarray], settings: RenderSettings) -> list[np.ndarray]:
        """Re-render each take pinned to start and end on its first frame; drop the repeated last frame."""
        c, f, h, w = self.geom.latent
        cond, mask = torch.zeros(len(shots), c, f, h, w), torch.zeros(len(shots), f, dtype=torch.bool)
        for i, shot in enumerate(shots):
            cond[i, :, 0], cond[i, :, -1] = still_latents(self.bundle, shot[0], self.geom)
        mask[:, 0] = mask[:, -1] = True
        again = self._run(settings, settings.seeds, (cond, mask))
        return [a[: len(a) - 1] for a in again]


def _fit_length(clip: np.ndarray, frames: int) -> np.ndarray:
    """Cut or pad (repeating the last frame) a clip to `frames` frames."""
    if len(clip) >= frames:
        return clip[:frames]
    return np.concatenate([clip, np.repeat(clip[-1:], frames - len(clip), axis=0)])


def loop_seam(frames: np.ndarray) -> float:
    """How visible the wrap of a looped clip is: |last - first| over the median step between frames."""
    f, steps = frames.astype(np.float32), _frame_steps(frames)
    wrap = float(np.abs(f[-1] - f[0]).mean())
    return wrap / max(float(np.median(steps)), 1e-6)


def join_seams(frames: np.ndarray, window: int, overlap: int) -> float:
    """Worst frame step at the joins of chained windows over the median step inside them (1 means invisible)."""
    steps = _frame_steps(frames)
    joins = list(range(window - 1, len(frames) - 1, window - overlap))
    if not joins:
        return 1.0
    return float(max(steps[j] for j in joins if j < len(steps)) / max(float(np.median(steps)), 1e-6))


def _frame_steps(frames: np.ndarray) -> np.ndarray:
    """(F-1,) mean absolute change from each frame to the next."""
    return np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
