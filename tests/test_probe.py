"""PyAV probe: exact measurements of synthetic clips, and a clear error for every kind of bad file."""

from fractions import Fraction
from pathlib import Path

import pytest

from cinefoundry.catalog.probe import probe_media
from cinefoundry.core.errors import MediaError
from cinefoundry.testing.synth import make_audio_only, make_video, truncate

MODES = ["full", "fast"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("name", "frames", "size", "fps"),
    [("a.mp4", 37, (64, 48), 12), ("b.webm", 25, (96, 40), 24), ("c.avi", 30, (34, 18), 25),
     ("d.mkv", 1, (32, 32), 24), ("e.mp4", 60, (64, 36), Fraction(30000, 1001)), ("f.mov", 12, (48, 32), 24)],
)  # fmt: skip
def test_probe_measures_synthetic_clips_exactly(tmp_path: Path, mode: str, name: str, frames: int, size, fps) -> None:
    path = make_video(tmp_path / name, frames=frames, size=size, fps=fps, audio=name == "a.mp4")
    probe = probe_media(str(path), mode)
    assert probe.frame_count == frames
    assert (probe.width, probe.height) == size
    assert Fraction(probe.fps_rational) == fps
    assert probe.duration_s == pytest.approx(frames / float(fps), abs=1.5 / float(fps))
    assert probe.audio_codecs == (["aac"] if name == "a.mp4" else [])
    assert probe.probe.endswith(mode)


@pytest.mark.parametrize("mode", MODES)
def test_probe_matches_the_samples_decoded_frame_counts(samples: Path, mode: str) -> None:
    path = samples / "tears_of_steel" / "tos_battle_clip_800x332.webm"
    probe = probe_media(str(path), mode)
    assert (probe.frame_count, probe.video_codec, probe.width, probe.height) == (1691, "vp8", 800, 332)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_truncated_files_are_reported_as_truncated(tmp_path: Path, mode: str, suffix: str) -> None:
    full = make_video(tmp_path / f"full{suffix}", frames=96, fps=24)
    cut = truncate(full, tmp_path / f"cut{suffix}", keep=0.5)
    with pytest.raises(MediaError, match=r"truncated") as err:
        probe_media(str(cut), mode)
    assert str(cut) in str(err.value)


def test_mp4_cut_before_its_index_cannot_be_opened(tmp_path: Path) -> None:
    full = make_video(tmp_path / "late_index.mp4", frames=48, faststart=False)
    cut = truncate(full, tmp_path / "cut.mp4", keep=0.6)
    with pytest.raises(MediaError, match=r"cut\.mp4: cannot be opened as a video"):
        probe_media(str(cut))


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("not a video at all\n" * 50), "cannot be opened as a video"),
        (lambda p: make_audio_only(p), r"no video stream: audio only \(aac\)"),
        (lambda p: None, "file not found"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["empty", "text", "audio-only", "missing", "folder"],
)
def test_bad_files_get_an_error_naming_file_and_problem(tmp_path: Path, make, problem: str) -> None:
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(MediaError, match=problem) as err:
        probe_media(str(path))
    assert err.value.source == str(path)
