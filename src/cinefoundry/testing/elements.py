"""A procedural VFX element reel: fire, explosions and bursts of sparks on black, with known cuts.

A studio's element library (effects shot on black) is what teaches its model to generate elements; the sample
library has none, so the demo shoots reels instead and imports them as studio-owned titles. The physics is
the usual cheap kind: heat rising with random cooling (fire), a turbulent fireball that grows and cools
(explosion), ballistic particles with drag and gravity (sparks); heat maps to colour through a blackbody-like
ramp (black, deep red, orange, yellow, white), so the hottest cores are bright and the background stays black.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

KINDS = ("fire", "explosion", "sparks")


@dataclass
class ReelTruth:
    """What the reel holds: one element per shot, each starting at a hard cut."""

    fps: int
    frames: int
    kinds: list[str] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # first frame of every element after the first


def heat_to_rgb(heat: np.ndarray) -> np.ndarray:
    """Heat in [0, 1] -> uint8 RGB: black, deep red, orange, yellow, white (red rises first, blue last)."""
    h = np.clip(heat, 0.0, 1.0)[..., None]
    rgb = np.clip(h * 3.0 - np.array([0.0, 1.0, 2.0], dtype=np.float32), 0.0, 1.0) ** 0.8
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def fbm(rng: np.random.Generator, h: int, w: int, octaves: int = 4) -> np.ndarray:
    """Fractal value noise in [0, 1]: random grids from 4x4 upward, upsampled smoothly and summed by octave."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for o in range(octaves):
        cells, amp = 4 * 2**o, 0.5**o
        out += amp * cv2.resize(rng.random((cells, cells), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
    return np.clip(out / total, 0.0, 1.0)


def fire(rng: np.random.Generator, frames: int, h: int, w: int) -> np.ndarray:
    """A burning fire: heat fed at the bottom rises a few rows a frame, drifting and cooling at random."""
    xs = np.arange(w)
    cx, half = rng.uniform(0.35, 0.65) * w, rng.uniform(0.12, 0.3) * w
    base = np.clip(1.0 - np.abs(xs - cx) / half, 0.0, 1.0) ** 0.5
    height = rng.uniform(0.45, 0.8) * h  # rows the flames reach on average
    wind, rise = rng.uniform(-0.4, 0.4), 4
    # Cooling varies over a noise field that rises with the flames: where it is low, tongues lick up.
    cool = 0.25 + 1.5 * fbm(rng, 2 * h, w, octaves=3)
    heat = np.zeros((h, w), np.float32)
    out = np.empty((frames, h, w, 3), np.uint8)
    for step in range(h + frames * rise):  # the first h steps let the fire take hold before frame 0
        heat[-3:] = np.maximum(heat[-3:], base * rng.uniform(0.75, 1.05, w))
        shift = np.rint(rng.normal(wind, 0.8, (h - 1, w))).astype(np.int64)
        moved = np.take_along_axis(heat[1:], np.clip(xs + shift, 0, w - 1), axis=1)
        field = np.roll(cool, -step, axis=0)[: h - 1]
        heat[:-1] = np.maximum(moved - rng.random((h - 1, w), dtype=np.float32) * field * (2.0 / height), 0.0)
        heat[-1] *= 0.9
        if step >= h and (step - h) % rise == rise - 1:
            out[(step - h) // rise] = heat_to_rgb(cv2.GaussianBlur(heat, (0, 0), 1.0) * 1.15)
    return out


def explosion(rng: np.random.Generator, frames: int, h: int, w: int) -> np.ndarray:
    """A fireball from black: it grows fast, boils (turbulent edge), then cools to red and fades out."""
    cy, cx = rng.uniform(0.4, 0.6) * h, rng.uniform(0.35, 0.65) * w
    size = rng.uniform(0.3, 0.45) * min(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(yy - cy, xx - cx)
    noise_a, noise_b = fbm(rng, h, w), fbm(rng, h, w)
    out = np.empty((frames, h, w, 3), np.uint8)
    sparks = _spark_heat(rng, frames, h, w, (cy, cx), count=int(rng.integers(20, 50)), speed=(4.0, 9.0))
    for f in range(frames):
        t = f / max(frames - 1, 1)
        radius = size * (1.0 - np.exp(-7.0 * t)) + 1.0
        mix = 0.5 + 0.5 * np.sin(np.pi * t)  # the turbulence churns as the ball grows
        turb = (1 - mix) * noise_a + mix * noise_b
        core = np.clip(1.2 * (1.0 - dist / radius) + 0.8 * (turb - 0.5), 0.0, 1.0)
        cooling = np.clip(1.15 - 1.0 * t**1.5, 0.0, 1.0)  # white-hot at first, dull red at the end
        out[f] = heat_to_rgb(np.maximum(core * cooling, sparks[f]))
    return out


def sparks(rng: np.random.Generator, frames: int, h: int, w: int) -> np.ndarray:
    """A burst of sparks from one point (a grinder, a ricochet, a blown fuse): bright streaks that fall."""
    origin = (rng.uniform(0.2, 0.5) * h, rng.uniform(0.3, 0.7) * w)
    heat = _spark_heat(rng, frames, h, w, origin, count=int(rng.integers(80, 160)), speed=(3.0, 10.0))
    return heat_to_rgb(heat)


def _spark_heat(rng: np.random.Generator, frames: int, h: int, w: int, origin: tuple[float, float], count: int,
                speed: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """Heat of particles thrown from `origin` (pixels a frame), drawn as streaks with a soft glow."""
    angle = rng.uniform(-np.pi, 0.1, count)  # mostly upward and sideways
    v = rng.uniform(*speed, count)
    vel = np.stack([np.sin(angle) * v, np.cos(angle) * v], axis=1).astype(np.float32)
    pos = np.tile(np.array(origin, np.float32), (count, 1))
    born = rng.integers(0, max(frames // 3, 1), count)
    life = rng.uniform(0.4, 1.0, count) * frames
    out = np.zeros((frames, h, w), np.float32)
    for f in range(frames):
        alive = (f >= born) & (f < born + life)
        prev = pos.copy()
        pos[alive] += vel[alive]
        vel[alive] *= 0.96  # drag
        vel[alive, 0] += 0.35  # gravity
        glow = 1.0 - (f - born) / life
        layer = out[f]
        for i in np.flatnonzero(alive):
            p0, p1 = (int(prev[i, 1]), int(prev[i, 0])), (int(pos[i, 1]), int(pos[i, 0]))
            cv2.line(layer, p0, p1, float(0.55 + 0.45 * glow[i]), 1)
        out[f] = np.maximum(layer, cv2.GaussianBlur(layer, (0, 0), 1.5) * 1.5)
    return out


RENDER: dict[str, Callable[[np.random.Generator, int, int, int], np.ndarray]] = {
    "fire": fire,
    "explosion": explosion,
    "sparks": sparks,
}


def element_reel(seed: int, count: int = 12, size: tuple[int, int] = (224, 126), fps: int = 24,
                 seconds: tuple[float, float] = (2.5, 4.0), kinds: tuple[str, ...] = KINDS,
                 ) -> tuple[np.ndarray, ReelTruth]:  # fmt: skip
    """`count` elements of `kinds` in turn, each 2.5-4 s, cut together: (F, H, W, 3) uint8 frames and the truth."""
    rng = np.random.default_rng(seed)
    w, h = size
    truth, shots = ReelTruth(fps, 0), []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        n = int(rng.uniform(*seconds) * fps)
        if shots:
            truth.cuts.append(truth.frames)
        shots.append(RENDER[kind](rng, n, h, w))
        truth.kinds.append(kind)
        truth.frames += n
    return np.concatenate(shots), truth
