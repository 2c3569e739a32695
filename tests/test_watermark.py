"""The invisible watermark on real frames and real H.264 encodes (PyAV): exact ids back, nothing from unmarked video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cinefoundry.generate.export import write_mp4
from cinefoundry.provenance.frames import read_frames, reencode
from cinefoundry.provenance.watermark import (
    Detection,
    QIMWatermarker,
    Watermarker,
    check_payload,
    conv_decode,
    conv_encode,
    default_watermarker,
    detect_file,
    payload_bits,
)
from cinefoundry.testing.synth import frame_image

IDS = (0x0123_4567_89AB_CDEF, 0xFFFF_FFFF_FFFF_FFFF, 7)
BBB = "big_buck_bunny/bbb_0000-0100_640x360.mp4"
TOS = "tears_of_steel/tos_battle_clip_800x332.webm"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def shrink(frames: np.ndarray, size: int = 64) -> np.ndarray:
    """Real footage at the demo model's output size (64x64)."""
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])


@pytest.fixture(scope="module")
def bbb(samples: Path) -> np.ndarray:
    """A 1.5 s excerpt of Big Buck Bunny at its native 640x360."""
    return read_frames(samples / BBB, max_frames=36)


@pytest.fixture(scope="module")
def tos(samples: Path) -> np.ndarray:
    """A 1 s excerpt of Tears of Steel (live action, film grain) at its native 800x332."""
    return read_frames(samples / TOS, max_frames=24)


def test_channel_code_corrects_errors_and_rejects_noise() -> None:
    rng = np.random.default_rng(0)
    for payload in IDS:
        coded = conv_encode(payload_bits(payload)).astype(np.float32) * 2 - 1  # (172,) +-1
        assert coded.shape == (172,)
        noisy = coded * rng.uniform(0.3, 1.0, coded.shape)
        noisy[rng.choice(coded.size, 6, replace=False)] *= -1  # six coded bits read wrong
        assert check_payload(conv_decode(noisy) > 0) == payload
    misses = sum(check_payload(conv_decode(rng.standard_normal(172)) > 0) is not None for _ in range(300))
    assert misses == 0
    with pytest.raises(ValueError):
        payload_bits(1 << 64)


def test_interface_shapes_and_types() -> None:
    wm = default_watermarker()
    assert isinstance(wm, Watermarker) and wm.name == "qim-luma-v1"
    frames = np.stack([frame_image(i, 65, 37) for i in range(5)])  # odd sizes are fine before encoding
    marked = wm.embed(frames, IDS[0])
    assert marked.shape == frames.shape and marked.dtype == np.uint8
    det = wm.detect(marked)
    assert isinstance(det, Detection) and det.payload == IDS[0] and det.frames_used == 5
    assert det.bits.shape == (80,) and np.all(np.abs(det.bits) <= 1) and 0.9 <= det.bit_accuracy_hint <= 1
    with pytest.raises(ValueError):
        wm.embed(frames.astype(np.float32), 1)
    with pytest.raises(ValueError):
        wm.detect(frames[0])


@pytest.mark.parametrize("payload", IDS, ids=hex)
def test_generated_size_clip_survives_h264_crf23(tmp_path: Path, bbb: np.ndarray, payload: int) -> None:
    """The acceptance case: a 64x64, 17-frame clip written as H.264 CRF 23 gives back its exact id."""
    wm = default_watermarker()
    clip = shrink(bbb[:17])
    marked = wm.embed(clip, payload)
    assert psnr(marked, clip) >= 36
    path = write_mp4(tmp_path / "out.mp4", marked, fps=16, crf=23)
    read = read_frames(path)
    assert read.shape == (17, 64, 64, 3)
    assert wm.detect(read).payload == payload
    assert detect_file(path).payload == payload


def test_synthetic_and_grainy_generated_size_clips_survive_crf23(tos: np.ndarray) -> None:
    wm = default_watermarker()
    flat = np.stack([frame_image(i, 64, 64, shot=i // 9) for i in range(17)])  # flat colours, a moving bar, a cut
    for clip in (flat, shrink(tos[:17])):
        marked = wm.embed(clip, IDS[1])
        assert psnr(marked, clip) >= 34
        assert wm.detect(reencode(marked, crf=23, fps=16)).payload == IDS[1]


@pytest.mark.parametrize("name", ["bbb", "tos"])
def test_real_footage_survives_crf28_and_half_size(request: pytest.FixtureRequest, name: str) -> None:
    frames = request.getfixturevalue(name)
    wm = default_watermarker()
    marked = wm.embed(frames, IDS[0])
    assert psnr(marked, frames) >= 38
    for attack in ({"crf": 28}, {"crf": 23, "scale": 0.5}):
        attacked = reencode(marked, **attack)
        det = wm.detect(attacked)
        assert det.payload == IDS[0], attack
        assert det.bit_accuracy_hint > 0.5 and det.frames_used == len(frames)


def test_unmarked_and_wrongly_keyed_video_reads_nothing(bbb: np.ndarray, tos: np.ndarray) -> None:
    wm = default_watermarker()
    for frames in (bbb, tos, shrink(bbb[:17]), reencode(shrink(tos[:17]), crf=23)):
        det = wm.detect(frames)
        assert det.payload is None
        assert det.bit_accuracy_hint < 0.3
    marked = wm.embed(bbb[:12], IDS[0])
    assert QIMWatermarker(key=12345).detect(marked).payload is None


def test_read_frames_from_png_and_image_folder(tmp_path: Path) -> None:
    wm = default_watermarker()
    still = wm.embed(np.stack([frame_image(3, 96, 80)]), IDS[2])
    Image.fromarray(still[0]).save(tmp_path / "still.png")
    assert read_frames(tmp_path / "still.png").shape == (1, 80, 96, 3)
    assert detect_file(tmp_path / "still.png").payload == IDS[2]
    folder = tmp_path / "seq"
    folder.mkdir()
    seq = wm.embed(np.stack([frame_image(i, 64, 64) for i in range(4)]), IDS[0])
    for i, f in enumerate(seq):
        Image.fromarray(f).save(folder / f"f{i:04d}.png")
    assert read_frames(folder, max_frames=3).shape == (3, 64, 64, 3)
    assert detect_file(folder).payload == IDS[0]
