"""Encode a clip's frames as H.264 (deterministic: one encoder thread, fixed settings) and name it."""

from __future__ import annotations

import hashlib
import os
import tempfile

import av
import numpy as np


def encode_clip(pictures: list[np.ndarray], fps: int, crf: int) -> bytes:
    """H.264 in MP4 (moov first, so players and training loaders start at once) from YUV 4:2:0 arrays."""
    height, width = pictures[0].shape[0] * 2 // 3, pictures[0].shape[1]
    # faststart rewrites the file in a second pass by name, so it needs a real file rather than a buffer
    with tempfile.TemporaryDirectory(prefix="cf-clip-") as tmp:
        path = os.path.join(tmp, "clip.mp4")
        _write(path, pictures, fps, crf, width, height)
        with open(path, "rb") as f:
            return f.read()


def _write(path: str, pictures: list[np.ndarray], fps: int, crf: int, width: int, height: int) -> None:
    with av.open(path, "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": str(crf)}
        stream.codec_context.thread_count = 1  # one thread: the same frames always give the same bytes
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def clip_id(title_id: str, media_sha256: str, processing_hash: str, first_slot: int, last_slot: int) -> str:
    """Stable id of a clip: the same title, media content, pipeline and frame range always give the same id."""
    key = f"{title_id}:{media_sha256}:{processing_hash}:{first_slot}:{last_slot}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
