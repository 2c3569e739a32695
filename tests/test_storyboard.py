"""Storyboards end to end with the tiny model: the three sample screenplays boarded through the CLI (PDF
rasterised, OTIO/EDL/FCP XML read back, durations summing to the animatic), a retake changing one panel, a
refused panel for a Tears of Steel performer while the rest of the board is made, resume after a failure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import opentimelineio as otio
import pypdfium2 as pdfium
import pytest
from typer.testing import CliRunner

from cinefoundry.cli import app
from cinefoundry.core.errors import InputError
from cinefoundry.provenance.verify import verify
from cinefoundry.storyboard import project as board_project
from cinefoundry.storyboard.project import BoardRequest, make_board
from cinefoundry.storyboard.screenplay import parse_fountain
from cinefoundry.workspace import Workspace

runner = CliRunner()
SCRIPTS = ["Ascent_to_Guru_Peak.fountain", "Cyber_Bob_ep00001_Traffic_Control_Dogs.fountain",
           "Cyber_Bob_ep04_The_Great_Fake_Lincoln_Debate.fountain"]  # fmt: skip
REFUSED_SCRIPT = """Title: Tower Test
Credit: written by
Author: Test

INT. CONTROL ROOM - NIGHT

Screens flicker. BOB types fast.

BOB
We have ninety seconds.

EXT. BRIDGE - DAY

Celia runs across the bridge, a rifle on her back.

INT. LAB - DAY

A robot arm lifts a glowing core.
"""


def animatic_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def cards(html: Path) -> dict[str, str]:
    """The HTML board's panels by shot id."""
    text = html.read_text(encoding="utf-8")
    return {m.group(1): m.group(0) for m in re.finditer(r'<article[^>]*data-shot-id="([^"]+)".*?</article>', text,
                                                        re.S)}  # fmt: skip


def timeline_frames(timeline: otio.schema.Timeline) -> int:
    return sum(round(clip.duration().value) for clip in timeline.find_clips())


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_sample_screenplay_becomes_a_board_the_edit_can_load(tiny_studio: Workspace, samples: Path,
                                                                script: str) -> None:  # fmt: skip
    path = samples / "screenplays" / script
    result = runner.invoke(app, ["storyboard", str(path), "--model", "gm", "--steps", "2",
                                 "--home", str(tiny_studio.home), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    parsed = parse_fountain(path)
    files = {k: Path(v) for k, v in doc["files"].items()}
    shots = json.loads(runner.invoke(app, ["storyboard", "shots", doc["project"], "--home", str(tiny_studio.home),
                                           "--json"]).stdout)  # fmt: skip
    assert {s["code"].split(".")[0] for s in shots} == {str(s.number) for s in parsed.scenes}  # every scene
    assert doc["shots"] == len(shots) == sum(doc["panels"].values())  # one panel per shot
    pdf = pdfium.PdfDocument(str(files["pdf"]))
    assert len(pdf) >= 2
    page = pdf[1].render(scale=0.5).to_numpy()
    assert page.std() > 10  # panels drawn, not a blank page
    cover = pdf[0].get_textpage().get_text_range()
    assert "gm@v1" in cover and "gd@v1" in cover
    timeline = otio.adapters.read_from_file(str(files["otio"]))
    clips = timeline.find_clips()
    assert len(clips) == len(shots) and all(any(s["id"] in c.name for s in shots) for c in clips)
    assert timeline_frames(timeline) == animatic_frames(files["animatic"])
    for key, adapter in (("edl", "cmx_3600"), ("xml", "fcp_xml")):
        assert len(otio.adapters.read_from_file(str(files[key]), adapter_name=adapter).find_clips()) == len(shots)
    assert verify(tiny_studio, files["animatic"])["manifest"]["state"] == "Trusted"
    panel = verify(tiny_studio, tiny_studio.home / shots[0]["takes"][0]["image"])  # a panel keyframe PNG
    assert panel["manifest"]["state"] == "Trusted" and panel["record"]["id"] == shots[0]["takes"][0]["record_id"]


def test_a_retake_changes_one_panel_and_its_timeline_clip(tiny_studio: Workspace, samples: Path) -> None:
    doc = make_board(tiny_studio, BoardRequest(samples / "screenplays" / SCRIPTS[0], "gm", scenes="1-2",
                                               name="retake-test", steps=2))  # fmt: skip
    before = otio.adapters.read_from_file(doc["files"]["otio"]).find_clips()
    cards_before = cards(Path(doc["files"]["html"]))
    target = before[1].metadata["cinefoundry"]["shot_id"]
    result = runner.invoke(app, ["storyboard", "retake", target, "--seed", "77", "--home", str(tiny_studio.home),
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    after = otio.adapters.read_from_file(json.loads(result.stdout)["files"]["otio"]).find_clips()
    changed = [a.metadata["cinefoundry"]["shot_id"] for b, a in zip(before, after, strict=True)
               if b.metadata["cinefoundry"]["record_id"] != a.metadata["cinefoundry"]["record_id"]]  # fmt: skip
    assert changed == [target]
    assert after[1].metadata["cinefoundry"]["take"] == 2
    cards_after = cards(Path(json.loads(result.stdout)["files"]["html"]))
    assert [k for k in cards_before if cards_before[k] != cards_after[k]] == [target]  # one panel changed
    approved = runner.invoke(app, ["storyboard", "approve", target, "1", "--home", str(tiny_studio.home), "--json"])
    assert approved.exit_code == 0, approved.output
    final = otio.adapters.read_from_file(json.loads(approved.stdout)["files"]["otio"]).find_clips()
    assert final[1].metadata["cinefoundry"]["take"] == 1  # the approved take is shown again


def test_a_panel_naming_a_performer_is_refused_and_the_rest_is_made(tiny_studio: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "tower.fountain"
    script.write_text(REFUSED_SCRIPT, encoding="utf-8")
    doc = make_board(tiny_studio, BoardRequest(script, "gm", steps=2))
    assert doc["panels"]["refused"] >= 1 and doc["panels"]["generated"] >= 3
    assert any("Celia" in n and "Denise Rebergen" in n and "consent" in n for n in doc["notes"])
    html = Path(doc["files"]["html"]).read_text(encoding="utf-8")
    assert "Denise Rebergen" in html


def test_an_interrupted_board_resumes_with_only_the_missing_panels(
    tiny_studio: Workspace, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = BoardRequest(samples / "screenplays" / SCRIPTS[1], "gm", scenes="1", name="resume-test", steps=2)
    real, calls = board_project.take_shot, []

    def interrupted(ws, sid, **kw):  # fault injection: the process dies on the third panel
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(sid)
        return real(ws, sid, **kw)

    monkeypatch.setattr(board_project, "take_shot", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_board(tiny_studio, request)
    monkeypatch.setattr(board_project, "take_shot", real)
    doc = make_board(tiny_studio, request)
    assert set(doc["generated"]).isdisjoint(calls) and len(doc["generated"]) == doc["shots"] - 2


def test_bad_screenplays_and_scene_ranges_get_clear_errors(tiny_studio: Workspace, tmp_path: Path,
                                                           samples: Path) -> None:  # fmt: skip
    empty = tmp_path / "empty.fountain"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        make_board(tiny_studio, BoardRequest(empty, "gm"))
    with pytest.raises(ValueError, match="99"):
        make_board(tiny_studio, BoardRequest(samples / "screenplays" / SCRIPTS[0], "gm", scenes="99"))
