"""A synthetic film with known ground truth: hard cuts, dissolves, fades, a black slate, a flash frame and
scrolling credits on black. Used to measure shot detection (recall, false cuts) per tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np


@dataclass
class FilmTruth:
    """Ground truth of a synthetic film, in frame indices at its frame rate."""

    fps: int
    frames: int
    hard_cuts: list[int] = field(default_factory=list)  # first frame of the new shot
    gradual: list[tuple[int, int]] = field(default_factory=list)  # (first, last) frame of dissolves and fades
    flashes: list[int] = field(default_factory=list)  # single white frames inside a shot: no cut
    credits: tuple[int, int] | None = None  # scrolling credits on black: one span, no cut inside


class Scene:
    """A procedural shot: a textured gradient background with moving shapes and a slow camera pan."""

    def __init__(self, seed: int, width: int, height: int):
        rng = np.random.default_rng(seed)
        self.w, self.h = width, height
        pad = width // 2
        # Hues a golden angle apart: consecutive scenes never share a palette.
        hue = int(seed * 137.5) % 180
        top, bottom = (_bgr(hue, int(rng.integers(120, 255)), int(rng.integers(120, 230))) for _ in range(2))
        ramp = np.linspace(0, 1, height + pad)[:, None, None]
        bg = (top * (1 - ramp) + bottom * ramp).repeat(width + pad, axis=1)
        noise = cv2.GaussianBlur(rng.normal(0, 25, (height + pad, width + pad)), (0, 0), 3)[:, :, None]
        self.bg = np.clip(bg + noise, 0, 255).astype(np.uint8)
        self.pan = rng.uniform(-1.5, 1.5, 2)
        self.shapes = [
            (rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-3, 3), rng.uniform(-2, 2),
             int(rng.integers(6, max(8, height // 5))), tuple(int(c) for c in rng.integers(0, 255, 3)))
            for _ in range(int(rng.integers(3, 7)))
        ]  # fmt: skip

    def frame(self, t: int) -> np.ndarray:
        pad = self.w // 2
        ox = int(np.clip(pad / 2 + self.pan[0] * t, 0, pad))
        oy = int(np.clip(pad / 2 + self.pan[1] * t, 0, pad))
        img = self.bg[oy : oy + self.h, ox : ox + self.w].copy()
        for x, y, vx, vy, r, colour in self.shapes:
            cv2.circle(img, (int(x + vx * t) % self.w, int(y + vy * t) % self.h), r, colour, -1)
        return img


def _bgr(hue: int, sat: int, val: int) -> np.ndarray:
    return cv2.cvtColor(np.uint8([[[hue, sat, val]]]), cv2.COLOR_HSV2BGR)[0, 0].astype(float)


def credits_frame(t: int, width: int, height: int, lines: int = 40) -> np.ndarray:
    """White credit lines on black, scrolling up two pixels per frame."""
    img = np.zeros((height, width, 3), np.uint8)
    spacing = max(12, height // 8)
    scale = max(0.3, height / 400)
    for i in range(lines):
        y = height + i * spacing - 2 * t
        if -spacing < y < height + spacing:
            text = f"{['DIRECTOR', 'CAMERA', 'EDITOR', 'MUSIC', 'SOUND'][i % 5]}  Person Number {i:02d}"
            cv2.putText(img, text, (width // 10, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 1, cv2.LINE_AA)
    return img


def make_film(path: Path, width: int = 320, height: int = 180, fps: int = 24, seed: int = 7) -> FilmTruth:
    """Encode the synthetic film to `path` (H.264) and return its ground truth."""
    truth = FilmTruth(fps=fps, frames=0)
    frames: list[np.ndarray] = []
    scene_id = [seed * 100]

    def scene() -> Scene:
        scene_id[0] += 1
        return Scene(scene_id[0], width, height)

    def shot(s: Scene, n: int, start: int = 0) -> list[np.ndarray]:
        return [s.frame(start + t) for t in range(n)]

    def cut_to(new: list[np.ndarray]) -> None:
        if frames:
            truth.hard_cuts.append(len(frames))
        frames.extend(new)

    def dissolve(a: Scene, b: Scene, n: int, at_a: int) -> None:
        first = len(frames)
        for t in range(n):
            alpha = (t + 1) / (n + 1)
            frames.append(cv2.addWeighted(a.frame(at_a + t), 1 - alpha, b.frame(t), alpha, 0))
        truth.gradual.append((first, len(frames) - 1))

    def fade(img_fn, n: int, out: bool) -> None:
        first = len(frames)
        for t in range(n):
            k = 1 - (t + 1) / n if out else (t + 1) / n
            frames.append((img_fn(t) * k).astype(np.uint8))
        truth.gradual.append((first, len(frames) - 1))

    s1, s2, s3, s4, s5, s6, s7 = (scene() for _ in range(7))
    cut_to(shot(s1, 48))
    cut_to(shot(s2, 36))
    cut_to(shot(s3, 30))
    dissolve(s3, s4, 16, at_a=30)  # 16-frame dissolve into s4
    frames.extend(shot(s4, 40, start=16))
    fade(lambda t: s4.frame(56 + t), 12, out=True)  # fade to black ...
    fade(lambda t: s5.frame(t), 12, out=False)  # ... and up into s5
    mid = shot(s5, 48, start=12)
    mid[20] = np.full_like(mid[20], 255)  # a flash frame inside s5: not a cut
    truth.flashes.append(len(frames) + 20)
    frames.extend(mid)
    cut_to([np.zeros((height, width, 3), np.uint8)] * fps)  # a one-second black slate
    cut_to(shot(s6, 40))
    cut_to(shot(s7, 12))  # a short shot
    cut_to(shot(s1, 30, start=60))
    start = len(frames)
    cut_to([credits_frame(t, width, height) for t in range(fps * 4)])
    truth.credits = (start, len(frames) - 1)
    truth.frames = len(frames)
    _encode(path, frames, fps)
    return truth


def _encode(path: Path, frames: list[np.ndarray], fps: int) -> None:
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img[:, :, ::-1].copy(), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def make_shots(
    path: Path, lengths: list[int], size: tuple[int, int] = (192, 108), fps: int = 24, seed: int = 1
) -> list[int]:
    """Encode consecutive procedural shots (textured, moving: they pass the curation filters) with hard cuts
    between them; returns the cut frames."""
    width, height = size
    frames: list[np.ndarray] = []
    cuts = []
    for i, n in enumerate(lengths):
        if frames:
            cuts.append(len(frames))
        scene = Scene(seed * 1000 + i, width, height)
        frames += [scene.frame(t) for t in range(n)]
    _encode(path, frames, fps)
    return cuts
