"""Decode a media file once, into the streams every later step reads.

Per decoded frame: a small BGR analysis image (about 96 px wide, read from the decoder's planes with a
stride; never a full-resolution RGB conversion). At the clip frame rate: the letterbox-cropped frame
resized to clip resolution as a YUV 4:2:0 array (pyramid halving, then bilinear: anti-aliased and cheap).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av
import cv2
import numpy as np

from cinefoundry.catalog.probe import open_video
from cinefoundry.core.errors import MediaError

YUV420 = ("yuv420p", "yuvj420p")


@dataclass(frozen=True)
class Crop:
    """The picture inside letterbox/pillarbox bars, in source pixels (even coordinates)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass
class Frame:
    """One decoded frame: its index and time, the analysis image, and (at clip rate) the clip-size picture."""

    index: int
    time: float
    small: np.ndarray  # (h, w, 3) uint8 BGR
    slots: list[int]  # clip-rate slots this frame fills (empty, one, or several for low-rate sources)
    picture: np.ndarray | None  # (H*3/2, W) uint8 YUV 4:2:0 at clip size, when `slots` is not empty


def clip_size(crop: Crop, short_side: int) -> tuple[int, int]:
    """Clip width and height: the short side as asked (never upscaled), both multiples of 16."""
    short = min(crop.width, crop.height)
    target = min(short_side, short) // 16 * 16
    if target < 16:
        raise ValueError(f"picture is {crop.width}x{crop.height}: too small for clips (16 px at least)")
    scale = target / short
    w = max(16, round(crop.width * scale / 16) * 16)
    h = max(16, round(crop.height * scale / 16) * 16)
    return w, h


def decode(uri: str, crop: Crop, fps: int, size: tuple[int, int], analysis_width: int) -> Iterator[Frame]:
    """Decode `uri` once; yields every frame with its analysis image and, on clip-rate slots, its picture."""
    with open_video(uri) as (container, stream):
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 24)
        t0, last_slot, index = None, -1, 0
        try:
            for frame in container.decode(stream):
                if frame.format.name not in YUV420:
                    frame = frame.reformat(format="yuv420p")
                t = float(frame.time) if frame.time is not None else index / rate
                t0 = t if t0 is None else t0
                # Clip-rate slots this frame covers (several when the source rate is below the clip rate).
                slot = round((t - t0) * fps)
                slots = list(range(last_slot + 1, slot + 1)) if slot > last_slot else []
                last_slot = max(last_slot, slot)
                planes = yuv_planes(frame)
                small = _small_bgr(planes, analysis_width)
                picture = _picture(planes, crop, size) if slots else None
                yield Frame(index, t - t0, small, slots, picture)
                index += 1
        except av.error.FFmpegError as exc:
            raise MediaError(uri, f"decoding failed at frame {index}: {exc}") from exc


def yuv_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (no copy) of the Y, U and V planes, cut to the picture size."""
    w, h = frame.width, frame.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    out = []
    for plane, (pw, ph) in zip(frame.planes, ((w, h), (cw, ch), (cw, ch)), strict=False):
        out.append(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw])
    return out[0], out[1], out[2]


def _small_bgr(planes: tuple[np.ndarray, ...], width: int) -> np.ndarray:
    """Analysis image from strided plane samples: a few thousand pixels read, whatever the source size."""
    y, u, v = planes
    step = max(1, round(y.shape[1] / width))
    cstep = max(1, step // 2)
    ys, us, vs = y[::step, ::step], u[::cstep, ::cstep], v[::cstep, ::cstep]
    h, w = min(ys.shape[0], us.shape[0]), min(ys.shape[1], us.shape[1])
    return cv2.cvtColor(cv2.merge((ys[:h, :w], us[:h, :w], vs[:h, :w])), cv2.COLOR_YUV2BGR)


def _picture(planes: tuple[np.ndarray, ...], crop: Crop, size: tuple[int, int]) -> np.ndarray:
    """The cropped picture at clip size, as one YUV 4:2:0 array (Y rows, then U, then V)."""
    w, h = size
    y, u, v = planes
    yc = _fit(y[crop.y0 : crop.y1, crop.x0 : crop.x1], w, h)
    # Chroma is half resolution and the eye forgives its aliasing: one bilinear resize is enough.
    cw, ch = w // 2, h // 2
    uc = cv2.resize(
        u[crop.y0 // 2 : crop.y1 // 2, crop.x0 // 2 : crop.x1 // 2], (cw, ch), interpolation=cv2.INTER_LINEAR
    )
    vc = cv2.resize(
        v[crop.y0 // 2 : crop.y1 // 2, crop.x0 // 2 : crop.x1 // 2], (cw, ch), interpolation=cv2.INTER_LINEAR
    )
    return np.concatenate((yc.reshape(-1), uc.reshape(-1), vc.reshape(-1))).reshape(h * 3 // 2, w)


def _fit(plane: np.ndarray, w: int, h: int) -> np.ndarray:
    """Halve with a Gaussian pyramid while at least twice too large, then bilinear to the exact size."""
    while plane.shape[1] >= 2 * w and plane.shape[0] >= 2 * h:
        plane = cv2.pyrDown(plane)
    if plane.shape[1] == w and plane.shape[0] == h:
        return np.ascontiguousarray(plane)
    return cv2.resize(plane, (w, h), interpolation=cv2.INTER_LINEAR)


def yuv_to_bgr(picture: np.ndarray) -> np.ndarray:
    """A clip-size YUV 4:2:0 picture as BGR (for attributes, thumbnails and captions)."""
    return cv2.cvtColor(picture, cv2.COLOR_YUV2BGR_I420)


def luma(picture: np.ndarray) -> np.ndarray:
    """The Y plane of a clip-size picture (a view)."""
    return picture[: picture.shape[0] * 2 // 3]
