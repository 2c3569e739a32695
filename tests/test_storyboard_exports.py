"""Storyboard exports on a hand-made board: real PNGs and MP4s in, real PDF, HTML, MP4, OTIO, EDL and XML out."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pypdfium2 as pdfium
import pytest
from PIL import Image

from cinefoundry.storyboard.animatic import shot_ranges, write_animatic
from cinefoundry.storyboard.board import Board, DialogueLine, Panel, ShotPlan
from cinefoundry.storyboard.exports import write_exports
from cinefoundry.storyboard.html import write_html
from cinefoundry.storyboard.pdf import write_pdf
from cinefoundry.storyboard.timeline import build_timeline, conform, edit_rate, write_timeline

REFUSAL = "prompt names Celia, played on screen by a performer without a likeness licence"


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:72, 0:128]
    rgb = np.stack([x * 2, y * 3, np.full_like(x, 40 * seed)], axis=-1) % 256
    rgb[20:50, 30:90] = rng.integers(0, 255, 3)  # a block, so the frame is not a plain gradient
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def _mp4(path: Path, frames: int, fps: int, seed: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 128, 72, "yuv420p"
        for i in range(frames):
            rgb = np.zeros((72, 128, 3), np.uint8)
            rgb[..., 0] = 30 * seed
            rgb[:, (i * 6) % 128 :][:, :20] = 255  # a bar that moves, frame by frame
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _plan(scene: int, number: int, size: str, duration: float, description: str, dialogue=()) -> ShotPlan:
    return ShotPlan(scene, number, size, "eye level", "static", "action", description, [], list(dialogue), duration)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    media = tmp_path_factory.mktemp("media")
    kitchen = "INT. KITCHEN \u2014 NIGHT"
    panels = [
        Panel(
            "sb1-s001-01",
            _plan(1, 1, "wide", 2.0, "Rain on the window. Rosa\u2019s kettle whistles \u2014 nobody moves."),
            kitchen,
            prompt="wide shot of a kitchen at night",
            status="generated",
            take=1,
            image=_png(media / "s1-1.png", 1),
            clip=_mp4(media / "s1-1.mp4", 20, 16, 1),
            record_id="rec-0001",
        ),
        Panel(
            "sb1-s001-02",
            _plan(
                1,
                2,
                "close-up",
                2.5,
                "Rosa looks up.",
                [DialogueLine("Rosa", "\u201cYou\u2019re late.\u201d", "wryly")],
            ),
            kitchen,
            prompt="close-up of Rosa",
            status="approved",
            take=3,
            image=_png(media / "s1-2.png", 2),
            clip=_mp4(media / "s1-2.mp4", 30, 24, 2),  # a clip at another rate, sampled by time
            record_id="rec-0002",
        ),
        Panel(
            "sb1-s002-01",
            _plan(2, 1, "medium", 1.7, "Celia steps in from the storm."),
            "EXT. STREET - NIGHT",
            prompt="Celia in the rain",
            status="refused",
            reason=REFUSAL,
        ),
        Panel("sb1-s002-02", _plan(2, 2, "insert", 0.9, "The key in the lock."), "EXT. STREET - NIGHT"),
        Panel(
            "sb1-s002-03",
            _plan(2, 3, "wide", 1.3, "A long description that goes on. " * 30),
            "EXT. STREET - NIGHT",
            prompt="street",
            status="generated",
            take=2,
            image=_png(media / "s2-3.png", 3),
            record_id="rec-0005",
        ),
    ]
    return Board(
        project="night-kitchen",
        title="The Night Kitchen",
        credit="Written by A. Writer",
        model="demo@v3",
        dataset_version="ds-2024.06.1",
        panels=panels,
        fps=16,
        notes=["Scene 2: 1 shot refused (likeness).", "Line 40 could not be parsed: \u201c>>>\u201d"],
    )


@pytest.fixture(scope="module")
def out(board: Board, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    files = {"pdf": write_pdf(board, folder / "board.pdf"), "html": write_html(board, folder / "board.html")}
    files["animatic"] = write_animatic(board, folder / "animatic.mp4")
    files.update(write_timeline(board, folder, animatic=files["animatic"]))
    return files


def test_pdf_cover_names_model_and_dataset_and_pages_are_drawn(out: dict[str, Path]) -> None:
    pdf = pdfium.PdfDocument(str(out["pdf"]))
    assert len(pdf) == 2  # cover + one page of six panels
    texts = [pdf[i].get_textpage().get_text_range() for i in range(2)]
    assert "demo@v3" in texts[0] and "ds-2024.06.1" in texts[0]
    assert "The Night Kitchen" in texts[0] and "night-kitchen" in texts[0]
    assert "Rosa\u2019s" in texts[1]  # curly quote survives: the TTF font has it
    assert "REFUSED" in texts[1] and "rec-0002" in texts[1] and "sb1-s002-01" in texts[1]
    assert "\u2026" in texts[1]  # the long description was cut, not spilled
    for i in range(2):
        pixels = np.asarray(pdf[i].render(scale=1).to_pil().convert("L"), dtype=float)
        assert pixels.std() > 10, f"page {i + 1} looks blank"


def test_pdf_without_dataset_says_so(board: Board, tmp_path: Path) -> None:
    bare = Board(board.project, board.title, board.credit, board.model, None, board.panels[:1])
    pdf = pdfium.PdfDocument(str(write_pdf(bare, tmp_path / "b.pdf")))
    assert "not recorded" in pdf[0].get_textpage().get_text_range()


def test_html_has_a_card_per_panel_and_the_refusal(out: dict[str, Path], board: Board) -> None:
    page = out["html"].read_text(encoding="utf-8")
    assert page.count('<article class="card') == len(board.panels)
    assert REFUSAL in page and "demo@v3" in page and "ds-2024.06.1" in page
    links = re.findall(r'(?:src|poster)="([^"]+)"', page)
    assert links and all((out["html"].parent / link).is_file() for link in links)
    assert page.count("<video") == 2


def test_animatic_length_is_the_sum_of_the_shots(out: dict[str, Path], board: Board) -> None:
    shots = shot_ranges(board)
    assert [s.frames for s in shots] == [round(p.plan.duration_s * 16) for p in board.panels]
    assert all(a.end == b.start for a, b in itertools.pairwise(shots))
    with av.open(str(out["animatic"])) as src:
        stream = src.streams.video[0]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 16
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(stream)]
    assert len(frames) == shots[-1].end == sum(round(p.plan.duration_s * 16) for p in board.panels)
    assert frames[0].shape[1] >= 512
    # A slate is mostly black; the picture after it (a bright clip) is not.
    assert frames[shots[0].start].mean() < frames[shots[0].start + shots[0].slate + 2].mean()


def test_otio_has_a_clip_per_panel_as_long_as_the_animatic(out: dict[str, Path], board: Board) -> None:
    timeline = otio.adapters.read_from_file(str(out["otio"]))
    clips = list(timeline.find_clips())
    assert clips[0].name == "sb1-s001-01 1.1 WIDE"
    assert all(p.shot_id in c.name for p, c in zip(board.panels, clips, strict=True))
    meta = [c.metadata["cinefoundry"] for c in clips]
    assert [m["record_id"] for m in meta] == ["rec-0001", "rec-0002", None, None, "rec-0005"]
    assert meta[2]["status"] == "refused" and meta[2]["reason"] == REFUSAL and meta[2]["take"] is None
    assert meta[1]["take"] == 3 and meta[1]["scene_heading"] == "INT. KITCHEN \u2014 NIGHT"
    assert isinstance(clips[2].media_reference, otio.schema.GeneratorReference)
    assert clips[0].media_reference.available_range.duration.value == 20
    with av.open(str(out["animatic"])) as src:
        animatic_s = src.streams.video[0].frames / 16
    assert sum(c.duration().to_seconds() for c in clips) == pytest.approx(animatic_s)
    assert timeline.duration().to_seconds() == pytest.approx(animatic_s)


def test_edl_and_fcp_xml_read_back_with_every_clip(out: dict[str, Path], board: Board) -> None:
    for kind, adapter in (("edl", "cmx_3600"), ("xml", "fcp_xml")):
        back = otio.adapters.read_from_file(str(out[kind]), adapter_name=adapter)
        clips = list(back.find_clips())
        assert len(clips) == len(board.panels), kind
        assert all(p.shot_id in c.name for p, c in zip(board.panels, clips, strict=True)), kind
        # Conformed to 24 fps: the cut lands within one frame of the animatic's length.
        assert back.duration().to_seconds() == pytest.approx(board.duration_s, abs=1 / 24), kind
    events = [line for line in out["edl"].read_text().splitlines() if re.match(r"^\d{3}\s", line)]
    reels = [line.split()[1] for line in events]
    assert len(reels) == len(set(reels)) == len(board.panels)
    assert all(re.fullmatch(r"[A-Z0-9]{1,8}", reel) for reel in reels)


def test_conform_keeps_cuts_and_total_length(board: Board) -> None:
    assert edit_rate(16) == 24 and edit_rate(25) == 25
    timeline = build_timeline(board)
    edit = conform(timeline, 24)
    clips = list(edit.find_clips())
    assert all(c.duration().rate == 24 and c.duration().value >= 1 for c in clips)
    assert edit.duration().to_seconds() == pytest.approx(timeline.duration().to_seconds(), abs=1 / 48)


def test_timeline_rejects_an_animatic_of_another_length(board: Board, tmp_path: Path) -> None:
    short = Board(board.project, board.title, board.credit, board.model, None, board.panels[2:4])
    movie = write_animatic(short, tmp_path / "short.mp4", size=(64, 36))
    with pytest.raises(ValueError, match="frames"):
        build_timeline(board, movie)


def test_write_exports_writes_every_kind(board: Board, tmp_path: Path) -> None:
    files = write_exports(board, tmp_path / "out")
    assert sorted(files) == ["animatic", "edl", "html", "otio", "pdf", "xml"]
    assert all(path.is_file() and path.stat().st_size > 0 for path in files.values())


def test_an_empty_board_still_gets_a_pdf_but_no_timeline(tmp_path: Path) -> None:
    empty = Board("p", "Empty", "", "demo@v3", "ds-1", [])
    assert len(pdfium.PdfDocument(str(write_pdf(empty, tmp_path / "e.pdf")))) == 1
    with pytest.raises(ValueError, match="no panels"):
        write_timeline(empty, tmp_path)
