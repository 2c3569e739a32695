"""Clip scores and filters: camera moves, black, fade, blur, text, near-duplicates, verdicts, clip splits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cinefoundry.ingest.attributes import measure
from cinefoundry.ingest.captions import ClipContext, StructuredCaptioner, TitleFacts
from cinefoundry.ingest.config import ClipConfig, FilterConfig
from cinefoundry.ingest.filters import near_duplicates, verdicts
from cinefoundry.ingest.text import text_coverage
from cinefoundry.ingest.tracker import ShotTracker
from cinefoundry.testing.film import Scene, credits_frame

W, H = 256, 144
BASE = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (600, 1000, 3), dtype=np.uint8), (0, 0), 2)


def clip(fn, n: int = 33) -> list[np.ndarray]:
    return [cv2.cvtColor(np.ascontiguousarray(fn(t)), cv2.COLOR_BGR2YUV_I420) for t in range(n)]


def scores(fn, n: int = 33):
    pictures = clip(fn, n)
    return measure(pictures, list(range(len(pictures))), 16, {})


def zoom(t: int, sign: int) -> np.ndarray:
    k = 2 * t if sign > 0 else 64 - 2 * t
    y, x = 200 + k, 300 + k * 3 // 2
    return cv2.resize(BASE[y : y + H * 2 - 2 * k, x : x + W * 2 - 3 * k], (W, H))


CAMERA = {
    ("static", ""): lambda t: BASE[100 : 100 + H, 100 : 100 + W],
    ("pan", "right"): lambda t: BASE[100 : 100 + H, 100 + 4 * t : 100 + 4 * t + W],
    ("pan", "left"): lambda t: BASE[100 : 100 + H, 300 - 4 * t : 300 - 4 * t + W],
    ("tilt", "up"): lambda t: BASE[300 - 3 * t : 300 - 3 * t + H, 100 : 100 + W],
    ("tilt", "down"): lambda t: BASE[100 + 3 * t : 100 + 3 * t + H, 100 : 100 + W],
    ("zoom", "in"): lambda t: zoom(t, 1),
    ("zoom", "out"): lambda t: zoom(t, -1),
    ("handheld", ""): lambda t: BASE[150 + int(4 * np.sin(t * 1.7)) : 150 + int(4 * np.sin(t * 1.7)) + H,
                                     150 + int(5 * np.cos(t * 2.3)) : 150 + int(5 * np.cos(t * 2.3)) + W],
}  # fmt: skip


@pytest.mark.parametrize("expected", list(CAMERA), ids=[" ".join(k).strip() for k in CAMERA])
def test_camera_moves_are_classified(expected):
    s = scores(CAMERA[expected])
    assert (s.camera_move, s.camera_direction) == expected


def test_black_fade_and_blur_scores():
    black = scores(lambda t: np.zeros((H, W, 3), np.uint8))
    assert black.black == 0 and black.brightness == 0
    logo = np.zeros((H, W, 3), np.uint8)
    cv2.circle(logo, (W // 2, H // 2), 12, (255, 255, 255), -1)
    assert scores(lambda t: logo).black > 0.9, "a logo on black is not a black clip"
    fade = scores(lambda t: (BASE[100 : 100 + H, 100 : 100 + W] * (1 - t / 32)).astype(np.uint8))
    assert fade.fade > 0.3
    assert scores(CAMERA[("pan", "right")]).fade == 0
    sharp = scores(lambda t: Scene(3, W, H).frame(t)).sharpness
    blurred = scores(lambda t: cv2.GaussianBlur(Scene(3, W, H).frame(t), (0, 0), 5)).sharpness
    assert blurred < FilterConfig().blur_sharpness < sharp


def test_text_coverage_separates_credits_from_pictures():
    assert text_coverage(cv2.cvtColor(credits_frame(60, W, H), cv2.COLOR_BGR2GRAY)) > 0.1
    for seed in range(5):
        assert text_coverage(cv2.cvtColor(Scene(seed, W, H).frame(0), cv2.COLOR_BGR2GRAY)) < 0.01
    s = scores(lambda t: credits_frame(t, W, H))
    assert s.text > FilterConfig().text_coverage


def row(clip_id: str, phash: str, pixels: int = 100, **kw) -> dict:
    base = {"clip_id": clip_id, "phash": phash, "source_pixels": pixels, "frames": 33, "fps": 16, "black": 0.8,
            "fade": 0.0, "motion": 0.1, "sharpness": 100.0, "text": 0.0, "title_card": False, "span": None}  # fmt: skip
    return base | kw


def test_near_duplicates_keep_the_largest_source_whatever_the_order():
    rows = [row("a", "ffff000000000000"), row("b", "ffff000000000003", pixels=400), row("c", "00000000ffffffff")]
    assert near_duplicates(rows, 6) == {"a": "b"}
    assert near_duplicates(list(reversed(rows)), 6) == {"a": "b"}
    assert near_duplicates(rows, None) == {}


def test_verdicts_name_every_reason_and_thresholds_can_change():
    rows = [row("ok", "1" * 16), row("short", "2" * 16, frames=9), row("dark", "3" * 16, black=0.01, sharpness=1),
            row("credits", "4" * 16, span="credits", text=0.2)]  # fmt: skip
    v = verdicts(rows, FilterConfig())
    assert v["ok"] == [] and v["short"] == ["too_short: 0.56 s < 1.0 s"]
    assert v["dark"] == ["black: brightest frame at 0.010 < 0.07"], "a black clip is not also called blurry"
    assert [r.split(":")[0] for r in v["credits"]] == ["text_heavy", "credits"]
    relaxed = verdicts(rows, FilterConfig().with_overrides("min_seconds=off,text_coverage=off,reject_spans=off"))
    assert relaxed["short"] == [] and relaxed["credits"] == []
    with pytest.raises(ValueError, match="unknown filter 'colour'"):
        FilterConfig().with_overrides("colour=3")


# max 5 s at 16 fps: 80 frames, so clips of at most 77 (4k+1); longer shots end in two balanced clips
@pytest.mark.parametrize(("frames", "expected"), [(40, [37]), (77, [77]), (81, [37, 41]), (100, [49, 49]),
                                                  (170, [77, 45, 45]), (4, [])])  # fmt: skip
def test_shots_become_balanced_clips_of_4k_plus_1_frames(frames: int, expected: list[int]):
    emitted = []
    tracker = ShotTracker(ClipConfig(), lambda c: emitted.append(len(c.pictures)))

    class F:  # a released frame: one clip-rate slot each
        def __init__(self, i):
            self.index, self.time, self.slots, self.picture, self.small = i, i / 16, [i], np.zeros((3, 2)), None

    for i in range(frames):
        tracker.hold(F(i))
    tracker.finish()
    assert emitted == expected and all((n - 1) % 4 == 0 for n in emitted)


def test_structured_captions_say_what_is_known():
    s = scores(CAMERA[("pan", "left")]).as_dict()
    text = StructuredCaptioner().caption(
        ClipContext(TitleFacts("Tears of Steel", 2012, "short", True), s, 0, 2, dialogue=["You're a jerk, Thom."])
    )
    assert text.startswith("A shot from Tears of Steel (2012), a live-action short film.")
    assert "the camera pans left" in text and 'Dialogue: "You\'re a jerk, Thom."' in text
