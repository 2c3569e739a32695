"""Measure a media file with PyAV: codec, size, frame rate, and frame count and duration by decoding it.

`full` decodes every frame (the count is what a decoder really yields, and a broken file fails here rather
than at ingest); `fast` counts video packets and decodes only the first frames, for very large libraries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, BinaryIO

import av
import fsspec

from cinefoundry.core.errors import MediaError

PROBE_MODES = ("full", "fast")
# A decode shorter than the container's declared duration by more than this is a truncated file.
TRUNCATION_TOLERANCE_S = 0.5
TRUNCATION_TOLERANCE_FRAC = 0.02


@dataclass(frozen=True)
class MediaProbe:
    """What decoding a file measured."""

    container: str
    video_codec: str
    audio_codecs: list[str]
    width: int
    height: int
    fps: float
    fps_rational: str
    frame_count: int
    duration_s: float
    probe: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_url(uri: str) -> bool:
    """True for fsspec URLs such as s3://bucket/key (file:// and plain paths are local)."""
    return "://" in uri and not uri.startswith("file://")


@contextmanager
def open_source(uri: str) -> Iterator[str | BinaryIO]:
    """A local path, or an open fsspec file object for remote URLs; names the file when it is missing."""
    if is_url(uri):
        try:
            with fsspec.open(uri, "rb") as f:
                yield f
        except FileNotFoundError as exc:
            raise MediaError(uri, "file not found") from exc
        return
    path = uri.removeprefix("file://")
    if not os.path.exists(path):
        raise MediaError(uri, "file not found")
    if os.path.isdir(path):
        raise MediaError(uri, "is a folder, not a media file")
    if os.path.getsize(path) == 0:
        raise MediaError(uri, "empty file (0 bytes)")
    yield path


@contextmanager
def open_video(uri: str) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The container and its main video stream (cover art skipped); MediaError when that cannot be had."""
    with open_source(uri) as source:
        try:
            container = av.open(source)
        except av.error.FFmpegError as exc:
            raise MediaError(uri, f"cannot be opened as a video (not a media file, or truncated): {exc}") from exc
        with container:
            yield container, _video_stream(uri, container)


def probe_media(uri: str, mode: str = "full") -> MediaProbe:
    """Measure `uri`; raise MediaError naming the file and the problem when it is not a usable video."""
    if mode not in PROBE_MODES:
        raise ValueError(f"probe mode must be one of {PROBE_MODES}, not {mode!r}")
    with open_video(uri) as (container, stream):
        stream.thread_type = "AUTO"
        frames, first, end = (
            _decode_all(uri, container, stream) if mode == "full" else _count_packets(uri, container, stream)
        )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        tb = stream.time_base or Fraction(1, 1)
        duration = float((end - first) * tb) if end > first else (frames / float(rate) if rate else 0.0)
        _check_complete(uri, container, stream, frames, duration)
        fps = Fraction(rate) if rate else Fraction(frames) / Fraction(duration or 1)
        return MediaProbe(
            container=container.format.name,
            video_codec=stream.codec_context.name,
            audio_codecs=[a.codec_context.name for a in container.streams.audio],
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=round(float(fps), 6),
            fps_rational=f"{fps.numerator}/{fps.denominator}",
            frame_count=frames,
            duration_s=round(duration, 6),
            probe=f"pyav-{av.__version__}:{mode}",
        )


def _video_stream(uri: str, container: av.container.InputContainer) -> av.video.stream.VideoStream:
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if videos:
        return videos[0]
    audio = [a.codec_context.name for a in container.streams.audio]
    if audio:
        raise MediaError(uri, f"no video stream: audio only ({', '.join(audio)})")
    raise MediaError(uri, "no video stream")


def _decode_all(uri: str, container: Any, stream: Any) -> tuple[int, int, int]:
    """Decode every frame; returns (frame count, first pts, end pts) in stream time base."""
    frames, first, end = 0, None, 0
    try:
        for frame in container.decode(stream):
            frames += 1
            if frame.pts is not None:
                first = frame.pts if first is None else min(first, frame.pts)
                end = max(end, frame.pts + (frame.duration or 0))
    except av.error.FFmpegError as exc:
        at = float(end * stream.time_base) if stream.time_base else 0.0
        raise MediaError(uri, f"decoding failed after {frames} frames (~{at:.2f} s): {exc}") from exc
    if frames == 0:
        raise MediaError(uri, "no decodable video frames")
    return frames, first or 0, end


def _count_packets(uri: str, container: Any, stream: Any) -> tuple[int, int, int]:
    """Count video packets (one per frame for the codecs studios deliver) and decode the first frame."""
    frames, first, end, decoded = 0, None, 0, False
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue
            frames += 1
            if packet.pts is not None:
                first = packet.pts if first is None else min(first, packet.pts)
                end = max(end, packet.pts + (packet.duration or 0))
            if not decoded:
                decoded = bool(stream.codec_context.decode(packet)) or decoded
    except av.error.FFmpegError as exc:
        raise MediaError(uri, f"reading failed after {frames} packets: {exc}") from exc
    if frames == 0:
        raise MediaError(uri, "no video packets")
    return frames, first or 0, end


def _check_complete(uri: str, container: Any, stream: Any, frames: int, duration: float) -> None:
    """Compare what was read with what the container declares; a short read means a truncated file."""
    declared = container.duration / 1e6 if container.duration else None
    if declared and duration < declared - max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_FRAC * declared):
        raise MediaError(uri, f"truncated: read {duration:.2f} s of video, the container declares {declared:.2f} s")
    if stream.frames and frames < stream.frames * (1 - TRUNCATION_TOLERANCE_FRAC) - 1:
        raise MediaError(uri, f"truncated: read {frames} frames, the container declares {stream.frames}")
