"""Reading a file's frames as RGB uint8 (any video PyAV decodes, still images), and the H.264 round trip.

The detector's side of the watermark: what it reads, and the transcode it must survive.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}  # read as stills by read_frames


def read_frames(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Decode a video, an image, or a folder of images (sorted by name) to (F, H, W, 3) uint8 RGB."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:max_frames]
        if not files:
            raise ValueError(f"{path}: no image files")
        return np.stack([_read_image(p) for p in files])
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _read_image(path)[None]
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if max_frames is not None and len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError(f"{path}: no video frames")
    return np.stack(frames)


def _read_image(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def reencode(frames: np.ndarray, crf: int = 23, scale: float = 1.0, fps: int = 24) -> np.ndarray:
    """Round-trip frames through H.264 (libx264, yuv420p) in memory, optionally resized first.

    What a watermark must survive in the wild (a platform transcode, a proxy at half size); used by the tests
    and the benchmark as the attack.
    """
    _f, h, w, _ = frames.shape
    # yuv420p needs even sizes: round the (scaled) size to the nearest even numbers
    sw, sh = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = sw, sh, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if (sw, sh) != (w, h):
                frame = frame.reformat(width=sw, height=sh, interpolation="AREA")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
