"""A project's board from its stored takes, and every export of it: PDF, HTML, animatic, timeline.

The animatic is a new output made from many takes, so it gets its own generation record (mode `animatic`,
listing the takes' records), watermark and C2PA manifest (digital source type composite-with-trained-media).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cinefoundry.core.errors import NotFoundError
from cinefoundry.models.bundle import read_meta
from cinefoundry.provenance.records import create_record
from cinefoundry.provenance.stamp import Stamper
from cinefoundry.storyboard.animatic import write_animatic
from cinefoundry.storyboard.board import Board, DialogueLine, Panel, ShotPlan
from cinefoundry.storyboard.html import write_html
from cinefoundry.storyboard.models import StoryboardProject, StoryboardShot, StoryboardTake
from cinefoundry.storyboard.pdf import write_pdf
from cinefoundry.storyboard.timeline import write_timeline
from cinefoundry.workspace import Workspace

COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


def load_board(ws: Workspace, name: str) -> Board:
    """The board of project `name` as it stands: one panel per shot, showing the approved or latest take."""
    with ws.session("storyboard.read") as s:
        project = _project(s, name)
        model = project.model
        panels = [_panel(ws, shot) for shot in project.shots if shot.scene in project.scenes]
        refused = [p for p in panels if p.status == "refused"]
        notes = [*project.notes, *(f"shot {p.plan.code} refused: {p.reason}" for p in refused)]
        fps = _model_fps(ws, model.path)
        return Board(project=project.name, title=project.title, credit=project.credit, model=model.label,
                     dataset_version=model.dataset.label if model.dataset else None, panels=panels, fps=fps,
                     notes=notes)  # fmt: skip


def export_board(ws: Workspace, name: str) -> dict[str, Any]:
    """Write board.pdf, board.html, animatic.mp4 (marked, signed, recorded) and the timeline files."""
    board = load_board(ws, name)
    with ws.session("storyboard.read") as s:
        folder = Path(_project(s, name).folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"pdf": write_pdf(board, folder / "board.pdf"), "html": write_html(board, folder / "board.html")}
    files["animatic"], animatic_record = _stamp_animatic(ws, name, board, folder / "animatic.mp4")
    files |= write_timeline(board, folder, animatic=files["animatic"], stem="timeline")
    statuses = ("generated", "approved", "refused", "failed", "planned")
    counts = {status: sum(p.status == status for p in board.panels) for status in statuses}
    return {"project": name, "title": board.title, "model": board.model, "dataset_version": board.dataset_version,
            "shots": len(board.panels), "panels": counts, "duration_s": round(board.duration_s, 2),
            "animatic_record": animatic_record, "files": {k: str(v) for k, v in files.items()},
            "notes": board.notes}  # fmt: skip


def shots_table(ws: Workspace, name: str) -> list[dict[str, Any]]:
    """Every shot of a project with its plan, prompt and takes (for `storyboard shots`)."""
    with ws.session("storyboard.read") as s:
        project = _project(s, name)
        return [{"id": sh.id, "code": f"{sh.scene}.{sh.number}", "status": _status(sh), "heading": sh.heading,
                 "size": sh.plan["size"], "angle": sh.plan["angle"], "move": sh.plan["move"],
                 "characters": sh.plan["characters"], "dialogue": sh.plan["dialogue"],
                 "duration_s": sh.plan["duration_s"], "description": sh.plan["description"], "prompt": sh.prompt,
                 "approved_take": sh.approved_take, "takes": [t.as_dict() for t in sh.takes]}
                for sh in project.shots]  # fmt: skip


def _panel(ws: Workspace, shot: StoryboardShot) -> Panel:
    plan = ShotPlan(**{k: v for k, v in shot.plan.items() if k != "dialogue"},
                    dialogue=[DialogueLine(**d) for d in shot.plan.get("dialogue", [])])  # fmt: skip
    panel = Panel(shot_id=shot.id, plan=plan, heading=shot.heading, prompt=shot.prompt)
    take = _shown(shot)
    if take is None:
        return panel
    panel.take, panel.prompt, panel.record_id = take.number, take.prompt, take.record_id
    panel.status = "approved" if shot.approved_take == take.number else take.status
    panel.reason = take.reason or ""
    if take.clip:
        panel.clip, panel.image = ws.home / take.clip, ws.home / take.image if take.image else None
    return panel


def _status(shot: StoryboardShot) -> str:
    """planned (no take yet), generated, approved, refused or failed: what the board shows for the shot."""
    take = _shown(shot)
    if take is None:
        return "planned"
    return "approved" if shot.approved_take == take.number else take.status


def _shown(shot: StoryboardShot) -> StoryboardTake | None:
    """The approved take, else the latest generated one, else the latest take (refused or failed)."""
    if shot.approved_take is not None:
        return next(t for t in shot.takes if t.number == shot.approved_take)
    generated = [t for t in shot.takes if t.status == "generated"]
    return (generated or shot.takes or [None])[-1]


def _stamp_animatic(ws: Workspace, name: str, board: Board, path: Path) -> tuple[Path, str]:
    """Record the animatic, write it with every frame marked with the record's id, sign it."""
    with ws.session("storyboard.animatic") as s:
        project = _project(s, name)
        records = [p.record_id for p in board.panels if p.record_id]
        record = create_record(s, model=project.model, tenant=ws.settings.tenant, actor=ws.actor, mode="animatic",
                               prompt=f"animatic of storyboard {name}: {board.title}", negative_prompt="", seed=0,
                               params={"shots": [p.shot_id for p in board.panels], "takes": records,
                                       "fps": board.fps, "duration_s": board.duration_s},
                               inputs={})  # fmt: skip
        stamper = Stamper(ws, s)
        write_animatic(board, path, mark=stamper.mark_frame(record))
        stamper.sign_written(record, project.model, path, source_type=COMPOSITE)
        return path, record.id


def _project(s: Session, name: str) -> StoryboardProject:
    project = s.scalar(select(StoryboardProject).where(StoryboardProject.name == name))
    if project is None:
        raise NotFoundError(f"no storyboard project {name!r}")
    return project


def _model_fps(ws: Workspace, path: str) -> int:
    return int(read_meta(ws.home / path)["window"]["fps"])
