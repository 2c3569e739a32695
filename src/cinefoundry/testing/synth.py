"""Synthetic clips encoded with PyAV: frame count, size, rate and cuts known exactly."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

CODECS = {".mp4": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9", ".avi": "mpeg4", ".mov": "prores_ks"}


def frame_image(index: int, width: int, height: int, shot: int = 0) -> np.ndarray:
    """An RGB frame: a per-shot colour (hues a golden angle apart) with a bar moving across it slowly."""
    hue = int(shot * 137.5 + 20) % 180
    base = cv2.cvtColor(np.uint8([[[hue, 170, 150 + 40 * (shot % 2)]]]), cv2.COLOR_HSV2RGB)[0, 0]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = base
    bar = max(2, width // 16)
    span = max(width - bar, 1)
    travel = int(index * width / 60) % (2 * span)  # a sixtieth of the width per frame, like a slow pan,
    x = travel if travel < span else 2 * span - travel  # bouncing back at the edges rather than jumping
    img[:, x : x + bar] = 255 - base
    return img


def make_video(
    path: Path,
    frames: int = 24,
    size: tuple[int, int] = (64, 48),
    fps: int | Fraction = 12,
    cuts: tuple[int, ...] = (),
    codec: str | None = None,
    faststart: bool = True,
    audio: bool = False,
) -> Path:
    """Encode `frames` frames at `fps`; a new shot (colour) starts at each frame index in `cuts`."""
    width, height = size
    codec = codec or CODECS[path.suffix]
    options = {"movflags": "+faststart"} if faststart and path.suffix in (".mp4", ".mov") else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv422p10le" if codec == "prores_ks" else "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "23"}
        audio_stream = out.add_stream("aac", rate=48000) if audio else None
        shot = 0
        for i in range(frames):
            shot += i in cuts
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height, shot), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio_stream is not None:
            _write_silence(out, audio_stream, seconds=frames / float(fps))
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An AAC-in-MP4 file with no video stream."""
    with av.open(str(path), "w") as out:
        _write_silence(out, out.add_stream("aac", rate=48000), seconds)
    return path


def _write_silence(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    samples, chunk = int(48000 * seconds), 1024
    for start in range(0, samples, chunk):
        data = np.zeros((1, min(chunk, samples - start)), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def truncate(src: Path, dest: Path, keep: float = 0.5) -> Path:
    """Copy the first `keep` fraction of a file's bytes (a download or copy that stopped half way)."""
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest
