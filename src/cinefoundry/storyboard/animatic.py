"""The animatic: one H.264 MP4 of the board, each shot a short slate and then its take, timed to the plan.

A shot lasts `round(duration_s * fps)` frames (at least one), so the animatic is exactly as long as the
timeline (`storyboard.timeline`), shot for shot; `shot_ranges` says where each shot sits in it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cinefoundry.storyboard.board import Board, Panel
from cinefoundry.storyboard.exports import caption, find_font, placeholder_text, shows_take

MIN_WIDTH = 512  # slates must stay readable when clips are small
SLATE_S = 0.5
WHITE, GREY, RED = (235, 235, 235), (150, 150, 150), (230, 80, 70)


@dataclass(frozen=True)
class ShotFrames:
    """Where one shot sits in the animatic: frames [start, start + frames), the first `slate` of them slate."""

    shot_id: str
    code: str
    start: int
    slate: int
    frames: int

    @property
    def end(self) -> int:
        return self.start + self.frames


def shot_frame_count(duration_s: float, fps: int) -> int:
    """Frames of a shot: round(duration * fps), but at least one, since a zero-length shot vanishes from an edit."""
    return max(1, round(duration_s * fps))


def shot_ranges(board: Board, fps: int | None = None, slate_s: float = SLATE_S) -> list[ShotFrames]:
    """Each panel's frame range in the animatic (and the timeline), in board order."""
    fps = fps or board.fps
    ranges, start = [], 0
    for panel in board.panels:
        frames = shot_frame_count(panel.plan.duration_s, fps)
        # A slate never takes more than a quarter of the shot, so short shots still show their picture.
        slate = min(round(slate_s * fps), frames // 4)
        ranges.append(ShotFrames(panel.shot_id, panel.plan.code, start, slate, frames))
        start += frames
    return ranges


@lru_cache(maxsize=32)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = find_font(bold)
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    """Words of `text` in lines no wider than `width`, the last cut with '…' past `max_lines`."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and draw.textlength(lines[-1] + "…", font=font) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "…"
    return lines


def _card(size: tuple[int, int], rows: list[tuple[str, int, tuple[int, int, int], bool]], bg=(0, 0, 0)) -> np.ndarray:
    """A still of centred text rows (text, size as a fraction 1/n of the height, colour, bold); RGB array."""
    w, h = size
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    laid: list[tuple[str, object, tuple[int, int, int], int]] = []
    for text, frac, colour, bold in rows:
        font = _font(max(8, h // frac), bold)
        for line in _wrap(draw, text, font, int(w * 0.9), 3):
            laid.append((line, font, colour, int(max(8, h // frac) * 1.3)))
    y = (h - sum(step for *_, step in laid)) // 2
    for line, font, colour, step in laid:
        x = (w - draw.textlength(line, font=font)) // 2
        draw.text((x, y), line, font=font, fill=colour)
        y += step
    return np.asarray(img)


def _slate(panel: Panel, size: tuple[int, int]) -> np.ndarray:
    cap = caption(panel)
    rows = [
        (f"{cap.code} · {panel.plan.size.upper()} · {cap.heading}", 11, WHITE, True),
        (cap.take, 18, WHITE, False),
        (f"{panel.shot_id} · {cap.duration}", 24, GREY, False),
    ]
    if not shows_take(panel):
        rows.append((panel.status.upper(), 18, RED, True))
    return _card(size, rows)


def _placeholder(panel: Panel, size: tuple[int, int], message: str | None = None) -> np.ndarray:
    cap = caption(panel)
    label, _, reason = (message or placeholder_text(panel)).partition(": ")
    rows = [(label, 8, RED if panel.status == "refused" else WHITE, True)]
    if reason:
        rows.append((reason, 20, WHITE, False))
    rows.append((f"{cap.code} · {cap.heading} · {cap.description}", 26, GREY, False))
    return _card(size, rows, bg=(38, 38, 38))


def _letterbox(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`rgb` scaled to fit `size` (w, h) without distortion, centred on black."""
    w, h = size
    sh, sw = rgb.shape[:2]
    scale = min(w / sw, h / sh)
    nw, nh = max(1, round(sw * scale)), max(1, round(sh * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = np.zeros((h, w, 3), np.uint8)
    x, y = (w - nw) // 2, (h - nh) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(rgb, (nw, nh), interpolation=interp)
    return out


def _burn_in(frame: np.ndarray, label: str) -> np.ndarray:
    # A small shot label on every picture frame, so an editor scrubbing the cut always knows the shot.
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    font = _font(max(8, img.height // 22))
    box = draw.textbbox((6, img.height - 6), label, font=font, anchor="lb")
    draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
    draw.text((6, img.height - 6), label, font=font, fill=WHITE, anchor="lb")
    return np.asarray(img)


def _next_frame(decoded: Iterator[av.VideoFrame]) -> av.VideoFrame | None:
    # A clip that breaks part-way ends there (and its last good frame is held) rather than failing the animatic.
    try:
        return next(decoded, None)
    except (av.error.FFmpegError, ValueError):
        return None


def _clip_frames(path: Path, count: int, fps: int, size: tuple[int, int], label: str) -> Iterator[np.ndarray]:
    """`count` frames of the clip at `fps`, picked by time (so clip and animatic rates may differ), then held.

    Raises before yielding anything when the clip cannot be opened or has no frame.
    """
    src = av.open(str(path))
    try:
        decoded = iter(src.decode(src.streams.video[0]))
        first = _next_frame(decoded)
        if first is None:
            raise ValueError(f"{path} has no video frames")
    except BaseException:
        src.close()
        raise
    return _sample(src, decoded, first, count, fps, size, label)


def _sample(src, decoded, first, count: int, fps: int, size: tuple[int, int], label: str) -> Iterator[np.ndarray]:
    with src:
        t0 = first.time or 0.0
        current, pending, picture = first, _next_frame(decoded), None
        for j in range(count):
            t = j / fps + 1e-6
            while pending is not None and (pending.time or 0.0) - t0 <= t:
                current, pending, picture = pending, _next_frame(decoded), None
            if picture is None:
                picture = _burn_in(_letterbox(current.to_ndarray(format="rgb24"), size), label)
            yield picture


def _picture(panel: Panel, count: int, fps: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The shot after its slate: the take's clip, else its keyframe held, else a placeholder card."""
    label = f"{panel.plan.code}" + (f" t{panel.take}" if panel.take is not None else "")
    message = None
    if shows_take(panel) and panel.clip is not None:
        try:
            return _clip_frames(Path(panel.clip), count, fps, size, label)
        except (OSError, ValueError, IndexError, av.error.FFmpegError) as exc:
            message = f"CLIP UNREADABLE: {Path(panel.clip).name} ({type(exc).__name__})"
    if shows_take(panel) and panel.image is not None:
        try:
            with Image.open(panel.image) as img:
                return itertools.repeat(_burn_in(_letterbox(np.asarray(img.convert("RGB")), size), label), count)
        except OSError as exc:
            message = f"IMAGE UNREADABLE: {Path(panel.image).name} ({type(exc).__name__})"
    return itertools.repeat(_placeholder(panel, size, message), count)


def _media_size(board: Board) -> tuple[int, int]:
    """The first take's picture size (clip, else keyframe); 16:9 at the minimum width when no take exists."""
    for panel in board.panels:
        if not shows_take(panel):
            continue
        try:
            if panel.clip is not None:
                with av.open(str(panel.clip)) as src:
                    ctx = src.streams.video[0].codec_context
                    return ctx.width, ctx.height
            if panel.image is not None:
                with Image.open(panel.image) as img:
                    return img.size
        except (OSError, ValueError, av.error.FFmpegError, IndexError):
            continue
    return MIN_WIDTH, MIN_WIDTH * 9 // 16


def animatic_size(board: Board) -> tuple[int, int]:
    """The default frame size: the takes' size scaled up to at least 512 px wide, even on both sides (H.264)."""
    w, h = _media_size(board)
    scale = max(1.0, MIN_WIDTH / w)
    return round(w * scale / 2) * 2, round(h * scale / 2) * 2


def write_animatic(
    board: Board,
    path: Path,
    fps: int | None = None,
    size: tuple[int, int] | None = None,
    slate_s: float = SLATE_S,
    mark: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Path:
    """Write the board's animatic as an H.264 MP4: per shot a slate, then its clip, keyframe or placeholder.

    Its frame count is exactly the sum of `shot_ranges(board, fps)`; fps defaults to the board's. `mark`
    (a watermark) is applied to every frame as it is written, so the file is encoded once.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fps = int(fps or board.fps)
    w, h = size or animatic_size(board)
    if w % 2 or h % 2:
        raise ValueError(f"H.264 needs an even frame size, got {w}x{h}")
    codec = "libx264" if "libx264" in av.codecs_available else "h264"
    written = 0
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.gop_size = fps  # a keyframe a second keeps scrubbing in an editor quick
        if codec == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast"}
        for panel, shot in zip(board.panels, shot_ranges(board, fps, slate_s), strict=True):
            slate = _slate(panel, (w, h))
            pictures = _picture(panel, shot.frames - shot.slate, fps, (w, h))
            last, marked = None, None
            for rgb in itertools.chain(itertools.repeat(slate, shot.slate), pictures):
                if mark is not None:
                    if rgb is not last:  # held slates and stills repeat one array: mark it once
                        last, marked = rgb, mark(rgb)
                    rgb = marked
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = written, Fraction(1, fps)
                out.mux(stream.encode(frame))
                written += 1
        out.mux(stream.encode(None))
    expected = sum(shot.frames for shot in shot_ranges(board, fps, slate_s))
    if written != expected:  # the timeline is cut to these frames; a mismatch would silently drift the edit
        raise RuntimeError(f"animatic has {written} frames, the shots add up to {expected}")
    return path
