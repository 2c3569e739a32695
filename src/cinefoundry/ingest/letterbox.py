"""Find letterbox and pillarbox bars from a dozen keyframes spread over the file (seeks, no full decode)."""

from __future__ import annotations

import av
import numpy as np

from cinefoundry.catalog.probe import open_video
from cinefoundry.ingest.frames import YUV420, Crop, yuv_planes

BAR_LUMA = 24  # a bar row stays below this (video-range black is 16) in every sampled frame
SAMPLES = 12
SECONDS_PER_SAMPLE = 5
MIN_KEEP = 0.5  # never crop away more than half of either dimension


def find_crop(uri: str, enabled: bool = True, samples: int = SAMPLES) -> Crop:
    """The picture area inside black bars that stay black in every sampled keyframe."""
    with open_video(uri) as (container, stream):
        w, h = stream.codec_context.width, stream.codec_context.height
        full = Crop(0, 0, w - w % 2, h - h % 2)
        if not enabled:
            return full
        lumas = _sample_luma(container, stream, samples)
    if not lumas:
        return full
    row_max = np.max([rows for rows, _ in lumas], axis=0)
    col_max = np.max([cols for _, cols in lumas], axis=0)
    top, bottom = _bars(row_max), _bars(row_max[::-1])
    left, right = _bars(col_max), _bars(col_max[::-1])
    crop = Crop(_even(left), _even(top), w - _even(right), h - _even(bottom))
    if crop.width < MIN_KEEP * w or crop.height < MIN_KEEP * h:
        return full  # a dark film, not bars
    return Crop(crop.x0, crop.y0, crop.x0 + crop.width // 2 * 2, crop.y0 + crop.height // 2 * 2)


def _sample_luma(container, stream, samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row and column mean luma of keyframes spread over the file (one sample per 5 s, 3 to `samples`)."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    duration = float(container.duration / 1e6) if container.duration else 0.0
    count = int(np.clip(duration // SECONDS_PER_SAMPLE, 3, samples))
    seen: set[int | None] = set()
    stream.codec_context.skip_frame = "NONKEY"
    try:
        for i in range(count):
            if duration and stream.time_base:
                container.seek(int(duration * (i + 0.5) / count / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts not in seen:  # short files keep landing on the same keyframe
                    seen.add(frame.pts)
                    if frame.format.name not in YUV420:
                        frame = frame.reformat(format="yuv420p")
                    y = yuv_planes(frame)[0]
                    out.append((y.mean(axis=1), y.mean(axis=0)))
                break
            if not duration:
                break
    except av.error.FFmpegError:
        pass  # a file that cannot seek keeps what was read; the full decode reports real damage
    finally:
        stream.codec_context.skip_frame = "DEFAULT"
    return out


def _bars(profile: np.ndarray) -> int:
    """How many leading rows (or columns) are bar: dark in every sample."""
    dark = profile < BAR_LUMA
    return int(np.argmin(dark)) if not dark.all() else len(profile)


def _even(n: int) -> int:
    return n + (n % 2)
