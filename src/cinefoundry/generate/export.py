"""Writing generated clips: MP4 (H.264), a contact-sheet grid, and VFX deliverables (PNG, EXR, ProRes 4444).

Effect elements generated on black are keyed to premultiplied RGBA by `luma_key`; each writer then stores alpha
the way its format's readers expect (see the table of conventions above `luma_key`).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import OpenEXR
import torch
from PIL import Image


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


# --- VFX elements and deliverable formats ------------------------------------------------------------------------
# Alpha conventions, one per format: the PNG and OpenEXR specs each fix one, ProRes leaves it to the reader:
#   in memory  premultiplied RGBA float in [0, 1], colour sRGB-encoded, rgb <= alpha (what luma_key returns)
#   PNG        straight (unassociated) alpha: the PNG spec defines it so; colour unpremultiplied, 8-bit sRGB
#   EXR        premultiplied (associated) alpha, colour linear-light: the OpenEXR convention for compositors
#   ProRes     premultiplied by default; the bitstream and the .mov carry no flag, so the choice goes in the
#              container comment. Apple's own encoder (VideoToolbox) defaults to premultiplied, and straight
#              colour misread as premultiplied lights up the transparent areas, the worse of the two failures
#   MP4        no alpha: RGBA is composited over black, which for premultiplied colour is the colour itself

Format = Literal["mp4", "png", "exr", "prores"]
AlphaMode = Literal["premultiplied", "straight"]
REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def luma_key(frames_rgb: np.ndarray, black: float = 0.04, white: float = 0.35) -> np.ndarray:
    """Key an element generated on black: (F, H, W, 3) uint8 -> (F, H, W, 4) float32 premultiplied RGBA in [0, 1].

    Alpha ramps smoothly from 0 at luma `black` to 1 at luma `white`, and is raised to the brightest channel where
    that is higher, so colour stays the plate itself (an element on black is already premultiplied) and rgb <= alpha;
    pixels whose every channel is below `black` are cleared to fully transparent black.
    """
    if not 0.0 <= black < white <= 1.0:
        raise ValueError(f"need 0 <= black < white <= 1, got black={black}, white={white}")
    rgb = _unit_float(frames_rgb)
    if rgb.shape[-1] != 3:
        raise ValueError(f"luma_key takes RGB frames (F, H, W, 3), got {frames_rgb.shape}")
    # Rec.709 luma (Y') on the sRGB-encoded values, not linear luminance: sRGB shares Rec.709 primaries, and on
    # encoded values the black and white points sit where an artist judging the monitor would put them.
    t = np.clip((rgb @ REC709_LUMA - black) / (white - black), 0.0, 1.0)  # (F, H, W)
    ramp = t * t * (3.0 - 2.0 * t)  # smoothstep: no hard edge at either point
    # Luma alone would leave dim saturated fringes (deep red flame tips) with rgb > alpha, i.e. unpremultiplied
    # colour above 1. Raising alpha to the max channel keeps them valid without dimming them, and the element
    # over black still reproduces the plate exactly.
    alpha = np.maximum(ramp, rgb.max(axis=-1))
    # Below the black point nothing is kept: codec noise and the invisible watermark lift "black" by a few
    # levels, and a compositor expects the background of an element to be exactly transparent.
    floor = rgb.max(axis=-1, keepdims=True) < black
    rgb, alpha = np.where(floor, 0.0, rgb), np.where(floor[..., 0], 0.0, alpha)
    return np.concatenate([rgb, alpha[..., None]], axis=-1).astype(np.float32)


def element_white_point(frames_rgb: np.ndarray, black: float = 0.04, white: float = 0.35) -> float:
    """The white point of an element's key: `white`, or lower for a dim element, so that its brightest
    1% (its core, as a compositor would pick it) keys fully opaque; never closer than 0.05 to `black`."""
    luma = _unit_float(frames_rgb) @ REC709_LUMA
    return float(min(white, max(black + 0.05, np.percentile(luma, 99))))


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function, decoded: encoded values in [0, 1] -> linear light."""
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4).astype(np.float32)


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied (..., 4) -> straight (..., 4); colour is 0 where alpha is 0 (nothing to recover there)."""
    a = rgba[..., 3:]
    rgb = np.divide(rgba[..., :3], a, out=np.zeros_like(rgba[..., :3]), where=a > 0)
    return np.concatenate([np.clip(rgb, 0.0, 1.0), a], axis=-1)


def write_png_sequence(folder: Path, frames: np.ndarray, name: str = "frame") -> list[Path]:
    """Write `name.0000.png`, ... as 8-bit PNG: RGB as is, premultiplied RGBA unpremultiplied first.

    PNG alpha is straight by definition (the PNG spec), so colour is divided by alpha before quantising.
    """
    x = _unit_float(frames)
    if x.shape[-1] == 4:
        x = unpremultiply(x)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(_to_uint8(x)):
        path = folder / f"{name}.{i:04d}.png"
        Image.fromarray(frame).save(path)
        paths.append(path)
    return paths


def write_exr_sequence(folder: Path, frames: np.ndarray, name: str = "frame") -> list[Path]:
    """Write `name.0000.exr`, ... as half-float RGB or RGBA: linear light, premultiplied, Rec.709 primaries.

    The premultiplied colour is linearised as it is (it is the light the element adds over black), not
    unpremultiplied first, so an over-black comp in linear light still reproduces the plate; alpha is not converted.
    """
    x = _unit_float(frames)
    x[..., :3] = srgb_to_linear(x[..., :3])
    # No chromaticities attribute: OpenEXR then means Rec.709 primaries with a D65 white, which sRGB shares.
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(x.astype(np.float16)):  # (H, W, C) half floats
        channels = {c: np.ascontiguousarray(frame[..., k]) for k, c in enumerate("RGBA"[: frame.shape[-1]])}
        path = folder / f"{name}.{i:04d}.exr"
        with OpenEXR.File(header, channels) as exr:
            exr.write(str(path))
        paths.append(path)
    return paths


def write_prores(path: Path, frames: np.ndarray, fps: int, alpha: AlphaMode = "premultiplied") -> Path:
    """Encode ProRes 4444 (prores_ks, 10-bit 4:4:4, 16-bit alpha) in a .mov; RGBA keeps its alpha plane.

    Alpha is premultiplied unless `alpha="straight"`; ProRes cannot say which, so the mode is written to the
    container comment and the receiving comp must be set to match (e.g. Nuke Read "premultiplied" checkbox).
    """
    x = _unit_float(frames)
    has_alpha = x.shape[-1] == 4
    if has_alpha and alpha == "straight":
        x = unpremultiply(x)
    _f, h, w, _ = x.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("prores_ks", rate=Fraction(fps))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuva444p10le" if has_alpha else "yuv444p10le"
        stream.options = {"profile": "4444"}
        # Tag BT.709 (1-1-1, limited range): what editorial expects of HD ProRes, and the matrix used below.
        cc = stream.codec_context
        cc.color_primaries = cc.color_trc = cc.colorspace = 1
        cc.color_range = 1
        if has_alpha:
            out.metadata["comment"] = f"alpha: {alpha}"
        src_fmt = "rgba64le" if has_alpha else "rgb48le"
        for frame in np.round(x * 65535.0).astype(np.uint16):  # (H, W, C) 16-bit, the 10-bit path's source
            rgb = av.VideoFrame.from_ndarray(frame, format=src_fmt)
            for packet in stream.encode(rgb.reformat(format=stream.pix_fmt, dst_colorspace="itu709")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_output(path_or_folder: Path, frames: np.ndarray, fps: int, fmt: Format) -> list[Path]:
    """Write frames (RGB uint8 or premultiplied RGBA float) in one format; returns the files written.

    mp4 and prores take a file path (the suffix is added when missing), png and exr a folder (fps unused).
    mp4 has no alpha: RGBA is composited over black, which for premultiplied colour is the colour itself.
    """
    target = Path(path_or_folder)
    if fmt == "png":
        return write_png_sequence(target, frames)
    if fmt == "exr":
        return write_exr_sequence(target, frames)
    if fmt == "prores":
        return [write_prores(target if target.suffix else target.with_suffix(".mov"), frames, fps)]
    if fmt == "mp4":
        rgb = _to_uint8(_unit_float(frames)[..., :3])  # premultiplied over black: C + (1 - A) * 0 = C
        return [write_mp4(target if target.suffix else target.with_suffix(".mp4"), rgb, fps)]
    raise ValueError(f"unknown output format {fmt!r}; expected one of mp4, png, exr, prores")


def _unit_float(frames: np.ndarray) -> np.ndarray:
    """(F, H, W, 3|4) uint8 (/255) or float (clipped) -> float32 in [0, 1]; 4 channels mean premultiplied RGBA."""
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4):
        raise ValueError(f"expected frames (F, H, W, 3 or 4), got shape {frames.shape}")
    if frames.dtype == np.uint8:
        return frames.astype(np.float32) / 255.0
    return np.clip(frames.astype(np.float32), 0.0, 1.0)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(x * 255.0).astype(np.uint8)
