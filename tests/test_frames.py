"""The decode step: clip sizes, clip-rate slots for any source rate (VFR and low rates too), letterbox."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cinefoundry.ingest.frames import Crop, clip_size, decode
from cinefoundry.ingest.letterbox import find_crop
from cinefoundry.testing.synth import frame_image, make_video


@pytest.mark.parametrize(
    ("crop", "short", "expected"),
    [((640, 360), 144, (256, 144)), ((800, 332), 144, (352, 144)), ((256, 110), 144, (224, 96)),
     ((1920, 1080), 480, (848, 480)), ((360, 640), 144, (144, 256))],
)  # fmt: skip
def test_clip_size_keeps_the_aspect_in_multiples_of_16_and_never_upscales(crop, short, expected):
    assert clip_size(Crop(0, 0, *crop), short) == expected


def test_a_picture_too_small_for_clips_is_refused():
    with pytest.raises(ValueError, match="16x8: too small"):
        clip_size(Crop(0, 0, 16, 8), 144)


@pytest.mark.parametrize(("fps", "frames"), [(24, 48), (60, 120), (10, 20), (16, 32)])
def test_clip_rate_slots_cover_the_timeline_once(tmp_path: Path, fps: int, frames: int):
    path = make_video(tmp_path / "v.mp4", frames=frames, size=(64, 48), fps=fps)
    out = list(decode(str(path), Crop(0, 0, 64, 48), 16, (64, 48), 96))
    slots = [s for f in out for s in f.slots]
    assert slots == list(range(len(slots)))
    assert len(slots) == pytest.approx(frames / fps * 16, abs=1)
    assert all(f.picture.shape == (72, 64) for f in out if f.slots)


def test_variable_frame_rate_follows_timestamps(tmp_path: Path):
    path = tmp_path / "vfr.mkv"
    times = [0, 1, 2, 3, 5, 7, 9, 12, 15, 18, 24, 30]  # in 1/24 s: the rate drops as it goes
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 24)
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_image(i, 64, 48), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 24)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    out_frames = list(decode(str(path), Crop(0, 0, 64, 48), 16, (64, 48), 96))
    assert [round(f.time * 24) for f in out_frames] == times
    slots = [s for f in out_frames for s in f.slots]
    assert slots == list(range(21))  # 30/24 s at 16 fps: slots 0..20, repeated frames where the rate drops


def test_letterbox_bars_are_found_and_cropped(tmp_path: Path):
    path = tmp_path / "scope.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(96):
            img = np.zeros((180, 320, 3), np.uint8)
            img[24:156] = frame_image(i, 320, 132, shot=i // 30)  # 2.42:1 picture inside 16:9
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    crop = find_crop(str(path))
    assert (crop.x0, crop.x1) == (0, 320)
    assert abs(crop.y0 - 24) <= 2 and abs(crop.y1 - 156) <= 2
    assert find_crop(str(path), enabled=False) == Crop(0, 0, 320, 180)


def test_a_dark_film_is_not_mistaken_for_bars(tmp_path: Path):
    path = make_video(tmp_path / "dark.mp4", frames=48, size=(160, 90))
    assert find_crop(str(path)) == Crop(0, 0, 160, 90)
