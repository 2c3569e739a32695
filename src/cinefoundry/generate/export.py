"""Writing generated clips: MP4 (H.264 via PyAV) and a contact-sheet grid of several clips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch


def to_frames(video: torch.Tensor) -> np.ndarray:
    """(3, F, H, W) in [-1, 1] -> (F, H, W, 3) uint8."""
    return ((video.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0).numpy()


def grid(videos: torch.Tensor, columns: int, gap: int = 2) -> np.ndarray:
    """Tile clips (N, 3, F, H, W) into one (F, rows*H', columns*W', 3) uint8 clip with black gaps."""
    n, _, f, h, w = videos.shape
    rows = (n + columns - 1) // columns
    out = np.zeros((f, rows * (h + gap) - gap, columns * (w + gap) - gap, 3), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        out[:, r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = to_frames(videos[i])
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: int, crf: int = 18) -> Path:
    """Encode (F, H, W, 3) uint8 frames as H.264 (yuv420p: sizes padded to even numbers)."""
    _f, h, w, _ = frames.shape
    ph, pw = h + h % 2, w + w % 2
    if (ph, pw) != (h, w):
        frames = np.pad(frames, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
