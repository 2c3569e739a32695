"""Output writers on a synthetic fire element: key it, write every format, read the real files back."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import OpenEXR
import pytest
from PIL import Image

from cinefoundry.generate.export import luma_key, srgb_to_linear, write_exr_sequence, write_output, write_prores

F, H, W = 9, 64, 64
CORE, CORNER, EDGE = (32, 32), (0, 0), (H - 1, W - 1)


@pytest.fixture(scope="module")
def fire() -> np.ndarray:
    """A flickering orange blob on pure black: (F, H, W, 3) uint8, saturated core, soft falloff, black corners."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frames = []
    for i in range(F):
        r = np.hypot(yy - 32, xx - 32 + np.sin(i) * 2) / (14 + i % 3)
        glow = np.clip(1.3 * np.exp(-(r**2)), 0, 1)  # flat at 1 over the core, then a gaussian falloff
        glow[r > 2.2] = 0  # pure black background, as a generated element on black would ideally be
        frames.append(glow[..., None] * np.array([255, 150, 30], np.float32))
    return np.round(np.stack(frames)).astype(np.uint8)


@pytest.fixture(scope="module")
def element(fire: np.ndarray) -> np.ndarray:
    return luma_key(fire)


def _semi_transparent(alpha: np.ndarray) -> tuple[int, int]:
    """A pixel of frame 0 with alpha well inside (0, 1), to tell straight from premultiplied colour."""
    ys, xs = np.nonzero((alpha[0] > 0.3) & (alpha[0] < 0.6))
    return int(ys[0]), int(xs[0])


def read_png(paths: list[Path]) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in paths])


def read_exr(path: Path) -> dict[str, np.ndarray]:
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        return {name: ch.pixels.copy() for name, ch in exr.channels().items()}


def read_video(path: Path) -> tuple[av.video.stream.VideoStream, list[av.VideoFrame], dict[str, str]]:
    """Decode every frame; returns the stream (for codec facts), the frames, and the container metadata."""
    with av.open(str(path)) as inp:
        stream = inp.streams.video[0]
        frames = list(inp.decode(stream))
        return stream, frames, dict(inp.metadata)


def test_luma_key_opaque_core_transparent_black_valid_premultiplied(fire: np.ndarray, element: np.ndarray) -> None:
    assert element.shape == (F, H, W, 4) and element.dtype == np.float32
    assert element.min() >= 0 and element.max() <= 1
    alpha = element[..., 3]
    assert np.all(alpha[:, CORE[0], CORE[1]] == 1.0)
    assert np.all(alpha[:, CORNER[0], CORNER[1]] == 0.0) and np.all(alpha[:, EDGE[0], EDGE[1]] == 0.0)
    assert np.all(element[..., :3] <= alpha[..., None])  # valid premultiplied: unpremultiplied colour <= 1
    kept = fire.max(axis=-1) >= 0.04 * 255  # below the black point (noise, the watermark's lift) is cleared
    np.testing.assert_array_equal(np.round(element[..., :3] * 255)[kept], fire[kept])  # colour is the plate
    assert ((alpha > 0.05) & (alpha < 0.95)).any()  # a soft ramp, not a matte


def test_luma_key_ramp_between_black_and_white_points() -> None:
    grey = np.array([0, 5, 60, 128, 200], np.uint8)  # neutral: luma == each channel
    alpha = luma_key(np.broadcast_to(grey[None, None, :, None], (1, 1, 5, 3)).copy())[0, 0, :, 3]
    assert alpha[0] == 0 and alpha[3] == 1 and alpha[4] == 1  # black is clear, above the white point is opaque
    assert alpha[1] == 0  # below the black point (noise, the watermark) is cleared to transparent
    assert 60 / 255 < alpha[2] < 1  # inside the ramp the key lifts alpha above the colour
    with pytest.raises(ValueError):
        luma_key(np.zeros((1, 2, 2, 3), np.uint8), black=0.5, white=0.2)


def test_png_sequence_straight_alpha(tmp_path: Path, element: np.ndarray) -> None:
    paths = write_output(tmp_path / "png", element, 24, "png")
    assert [p.name for p in paths] == [f"frame.{i:04d}.png" for i in range(F)]
    with Image.open(paths[0]) as im:
        assert im.mode == "RGBA" and im.size == (W, H)
    rgba = read_png(paths)
    assert np.all(rgba[:, CORNER[0], CORNER[1], 3] == 0) and np.all(rgba[:, EDGE[0], EDGE[1], 3] == 0)
    assert np.all(rgba[:, CORE[0], CORE[1], 3] > 250)
    # Straight alpha: stored colour times alpha gives back the premultiplied colour (to 8-bit precision).
    y, x = _semi_transparent(element[..., 3])
    premultiplied = rgba[0, y, x, :3] / 255 * rgba[0, y, x, 3] / 255
    np.testing.assert_allclose(premultiplied, element[0, y, x, :3], atol=2.5 / 255)
    assert rgba[0, y, x, 0] > element[0, y, x, 0] * 255 + 20  # visibly brighter than the premultiplied value


def test_png_sequence_rgb(tmp_path: Path, fire: np.ndarray) -> None:
    paths = write_output(tmp_path / "png", fire, 24, "png")
    assert len(paths) == F
    with Image.open(paths[0]) as im:
        assert im.mode == "RGB"
    np.testing.assert_array_equal(read_png(paths), fire)


def test_exr_half_float_linear(tmp_path: Path) -> None:
    grey = np.full((2, 8, 8, 3), 0.5, np.float32)  # sRGB mid-grey
    paths = write_exr_sequence(tmp_path / "exr", grey)
    assert len(paths) == 2 and paths[0].suffix == ".exr"
    with OpenEXR.File(str(paths[0]), separate_channels=True) as exr:
        channels = exr.channels()
        assert sorted(channels) == ["B", "G", "R"]
        assert all(ch.pixels.dtype == np.float16 for ch in channels.values())  # stored as HALF
        assert channels["R"].pixels.shape == (8, 8)
    assert read_exr(paths[0])["G"][4, 4] == pytest.approx(0.214, abs=0.001)


def test_exr_rgba_premultiplied(tmp_path: Path, element: np.ndarray) -> None:
    paths = write_output(tmp_path / "exr", element, 24, "exr")
    assert len(paths) == F
    ch = read_exr(paths[0])
    assert sorted(ch) == ["A", "B", "G", "R"] and ch["A"].dtype == np.float16 and ch["A"].shape == (H, W)
    a = ch["A"].astype(np.float32)
    assert a[CORNER] == 0 and a[EDGE] == 0 and a[CORE] == 1
    rgb = np.stack([ch[c] for c in "RGB"], -1).astype(np.float32)
    assert np.all(rgb <= a[..., None] + 1e-3)  # premultiplied, still valid after linearisation
    y, x = _semi_transparent(element[..., 3])
    assert a[y, x] == pytest.approx(element[0, y, x, 3], abs=1e-3)  # alpha is not linearised
    np.testing.assert_allclose(rgb[y, x], srgb_to_linear(element[0, y, x, :3]), atol=2e-3)


def test_prores_4444_premultiplied_alpha(tmp_path: Path, element: np.ndarray) -> None:
    (path,) = write_output(tmp_path / "element", element, 24, "prores")
    assert path.suffix == ".mov"
    stream, frames, meta = read_video(path)
    assert stream.codec_context.name == "prores" and stream.codec_context.profile == "4444"
    assert stream.codec_tag == "ap4h"  # the QuickTime FourCC of ProRes 4444
    assert meta["comment"] == "alpha: premultiplied"
    assert len(frames) == F and (frames[0].width, frames[0].height) == (W, H)
    assert frames[0].format.name.startswith("yuva")  # decoded with an alpha plane
    rgba = np.stack([f.to_ndarray(format="rgba64le") for f in frames]).astype(np.float32) / 65535
    assert np.all(rgba[:, CORNER[0], CORNER[1], 3] < 0.01) and np.all(rgba[:, EDGE[0], EDGE[1], 3] < 0.01)
    assert np.all(rgba[:, CORE[0], CORE[1], 3] > 0.99)
    np.testing.assert_allclose(rgba[..., 3], element[..., 3], atol=0.01)  # alpha is coded losslessly (+ 10-bit)
    y, x = _semi_transparent(element[..., 3])
    np.testing.assert_allclose(rgba[0, y, x, :3], element[0, y, x, :3], atol=0.02)


def test_prores_straight_alpha_and_rgb(tmp_path: Path, fire: np.ndarray, element: np.ndarray) -> None:
    path = write_prores(tmp_path / "straight.mov", element, 24, alpha="straight")
    _stream, frames, meta = read_video(path)
    assert meta["comment"] == "alpha: straight"
    rgba = frames[0].to_ndarray(format="rgba64le").astype(np.float32) / 65535
    y, x = _semi_transparent(element[..., 3])
    np.testing.assert_allclose(rgba[y, x, :3] * rgba[y, x, 3], element[0, y, x, :3], atol=0.02)

    stream, frames, meta = read_video(write_prores(tmp_path / "plate.mov", fire, 24))
    assert stream.codec_context.profile == "4444" and "comment" not in meta
    assert len(frames) == F and not frames[0].format.name.startswith("yuva")
    rgb = frames[0].to_ndarray(format="rgb24").astype(int)
    assert np.abs(rgb - fire[0]).max() <= 6


def test_mp4_composites_over_black(tmp_path: Path, fire: np.ndarray, element: np.ndarray) -> None:
    (path,) = write_output(tmp_path / "element", element, 24, "mp4")
    assert path.suffix == ".mp4"
    stream, frames, _meta = read_video(path)
    assert stream.codec_context.name == "h264" and len(frames) == F
    rgb = np.stack([f.to_ndarray(format="rgb24") for f in frames]).astype(int)
    assert rgb.shape == (F, H, W, 3)
    # Over black, premultiplied colour is the plate: the core stays orange, the corners black (H.264 loss aside).
    assert np.abs(rgb[:, CORE[0], CORE[1]] - fire[:, CORE[0], CORE[1]]).max() <= 12
    assert rgb[:, CORNER[0], CORNER[1]].max() <= 6


def test_write_output_rejects_unknown_format(tmp_path: Path, fire: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        write_output(tmp_path / "x", fire, 24, "gif")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected frames"):
        write_output(tmp_path / "x", fire[0], 24, "png")
