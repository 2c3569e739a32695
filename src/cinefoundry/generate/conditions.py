"""Inputs of a generation turned into what the pipeline takes: the geometry, clean conditioning latents and
their mask (image-to-video, keyframes, extension), or the latents of a clip to re-render (video-to-video).

Every image or clip is fitted to the output size by scaling to cover it and cropping the centre, the way the
training windows were made, so a reference frame means the same thing to the model as a training frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from cinefoundry.core.errors import InputError
from cinefoundry.models.bundle import ModelBundle
from cinefoundry.models.vae import encode


@dataclass(frozen=True)
class Geometry:
    """Output size and length, and the latent shape (C, f, h, w) that gives them."""

    frames: int
    height: int
    width: int
    fps: int
    latent: tuple[int, int, int, int]

    @property
    def temporal_factor(self) -> int:
        return (self.frames - 1) // (self.latent[1] - 1) if self.latent[1] > 1 else 1


def buckets(bundle: ModelBundle) -> list[tuple[int, int, int]]:
    """The (frames, height, width) buckets the model was trained on, its main window first."""
    w = bundle.meta["window"]
    return [tuple(b) for b in bundle.meta.get("buckets") or [[w["frames"], w["height"], w["width"]]]]


def model_geometry(bundle: ModelBundle, size: tuple[int, int] | None = None, frames: int | None = None) -> Geometry:
    """The model's main window, or the asked size (W, H) and length when the model's buckets cover them.

    A size is covered by a bucket of that size, or by one within 2x of its area and aspect (a DiT degrades
    quickly far from what it saw), in multiples of one latent token (VAE factor x patch). A length is any
    4k+1 (the VAE's temporal factor) up to the longest bucket of that size; longer shots chain windows.
    """
    vae_cfg = bundle.recipe.vae
    _, ph, pw = bundle.transformer.config.patch_size
    cell_h, cell_w = vae_cfg.spatial_factor * ph, vae_cfg.spatial_factor * pw
    trained = buckets(bundle)
    width, height = size or (trained[0][2], trained[0][1])
    if width % cell_w or height % cell_h:
        raise ValueError(f"size {width}x{height}: this model needs multiples of {cell_w}x{cell_h}")
    near = [b for b in trained if 0.5 <= width * height / (b[1] * b[2]) <= 2 and 0.5 <= (width / height) /
            (b[2] / b[1]) <= 2]  # fmt: skip
    if not near:
        sizes = ", ".join(f"{w}x{h}" for _, h, w in trained)
        raise ValueError(f"size {width}x{height} is outside this model's buckets ({sizes}; each takes half to "
                         "twice its area and aspect)")  # fmt: skip
    exact = [b for b in near if (b[1], b[2]) == (height, width)]
    longest = max(b[0] for b in exact or near)
    n = min(frames or longest, longest)
    tf = vae_cfg.temporal_factor
    n = (n - 1) // tf * tf + 1
    latent = vae_cfg.latent_shape(n, height, width)
    return Geometry(n, height, width, int(bundle.meta["window"]["fps"]), latent)


def fit_frame(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale (H, W, 3) uint8 to cover width x height and crop the centre."""
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    nw, nh = max(width, round(w * scale)), max(height, round(h * scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top, left = (nh - height) // 2, (nw - width) // 2
    return resized[top : top + height, left : left + width]


def load_image(path: Path, width: int, height: int) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB fitted to the output size; a clear error names a bad file."""
    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise InputError(str(path), "not a readable image (PNG, JPEG, TIFF, EXR or WebP)")
    return fit_frame(cv2.cvtColor(data, cv2.COLOR_BGR2RGB), width, height)


def load_clip(path: Path, geom: Geometry, max_frames: int | None = None) -> np.ndarray:
    """A video file as (F, H, W, 3) uint8 at the output's fps and size (nearest-frame resampling)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames, times = [], []
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                times.append(float(frame.pts * stream.time_base))
                frames.append(fit_frame(frame.to_ndarray(format="rgb24"), geom.width, geom.height))
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(str(path), f"not a readable video: {exc}") from exc
    if not frames:
        raise InputError(str(path), "holds no video frames")
    times_a = np.asarray(times) - times[0]
    step = float(Fraction(1, geom.fps))
    wanted = np.arange(0.0, times_a[-1] + 1e-6, step)
    idx = np.searchsorted(times_a, wanted - step / 2)
    clip = np.stack([frames[min(i, len(frames) - 1)] for i in idx])
    return clip if max_frames is None else clip[:max_frames]


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (3, F, H, W) float in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0


def still_latents(bundle: ModelBundle, image: np.ndarray, geom: Geometry) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent frames of an image held still: (first, held), each (C, h, w).

    The causal VAE encodes the first pixel frame alone into latent frame 0 and every later latent frame from a
    group of `temporal_factor` frames, so a still at the start and a still later in the shot differ.
    """
    tf = bundle.recipe.vae.temporal_factor
    clip = to_tensor(np.repeat(image[None], 1 + tf, axis=0))[None]
    z = encode(bundle.vae, clip.to(next(bundle.vae.parameters()).device))[0].float().cpu()
    return z[:, 0], z[:, 1]


def keyframe_condition(
    bundle: ModelBundle, geom: Geometry, keyframes: list[tuple[float, np.ndarray]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images at times (seconds; negative means the last frame) -> cond latents (C, f, h, w) and mask (f,)."""
    c, f, h, w = geom.latent
    cond, mask = torch.zeros(c, f, h, w), torch.zeros(f, dtype=torch.bool)
    duration = (geom.frames - 1) / geom.fps
    for at, image in keyframes:
        at = duration if at < 0 else at
        if not -1e-6 <= at <= duration + 1e-6:
            raise ValueError(f"keyframe at {at:g} s is outside the shot (0 to {duration:g} s)")
        frame = round(at * geom.fps)
        index = 0 if frame == 0 else (frame - 1) // geom.temporal_factor + 1
        first, held = still_latents(bundle, image, geom)
        cond[:, index] = first if index == 0 else held
        mask[index] = True
    return cond, mask


def clip_latents(bundle: ModelBundle, frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 with F = tk+1 -> normalised latents (C, f, h, w)."""
    device = next(bundle.vae.parameters()).device
    return encode(bundle.vae, to_tensor(frames)[None].to(device))[0].float().cpu()


def prefix_condition(bundle: ModelBundle, geom: Geometry, tail: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The last frames of a clip as the clean start of the next window: cond latents (C, f, h, w), mask (f,)."""
    z = clip_latents(bundle, tail)
    c, f, h, w = geom.latent
    cond, mask = torch.zeros(c, f, h, w), torch.zeros(f, dtype=torch.bool)
    cond[:, : z.shape[1]] = z
    mask[: z.shape[1]] = True
    return cond, mask
