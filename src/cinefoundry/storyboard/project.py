"""A storyboard project end to end: screenplay -> shot records -> one take per shot -> board exports.

1. parse the Fountain file and break the chosen scenes into shots, each a database record with a stable id;
2. compose each shot's prompt from its scene heading, its plan and the model's house style;
3. generate a take per shot that has none (so a rerun after a failure makes only the missing panels); the
   likeness guard refuses a shot naming a protected performer or character, and the board says why;
4. export: PDF and HTML boards, an animatic (marked and signed like any output), an OTIO timeline with EDL
   and FCP XML. A retake or an approval re-exports from the stored takes without regenerating the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import Title
from cinefoundry.core.errors import CinefoundryError, InputError, NotFoundError, RefusedError
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.generate.request import GenerateRequest
from cinefoundry.generate.run import generate
from cinefoundry.ingest.captions import TitleFacts, title_phrase
from cinefoundry.provenance.records import sha256_file
from cinefoundry.registry.models import ModelGrant, StudioModel
from cinefoundry.registry.registry import find_model
from cinefoundry.storyboard.board import ShotPlan
from cinefoundry.storyboard.breakdown import break_down_all
from cinefoundry.storyboard.models import StoryboardProject, StoryboardShot, StoryboardTake
from cinefoundry.storyboard.prompts import shot_prompt
from cinefoundry.storyboard.screenplay import parse_fountain, parse_scene_range
from cinefoundry.workspace import Workspace


@dataclass
class BoardRequest:
    """`cinefoundry storyboard SCRIPT --model M ...`."""

    script: Path
    model: str
    scenes: str | None = None  # "1-3"; None: every scene
    out: Path | None = None
    name: str | None = None  # project name; default: from the script's title
    style: str | None = None  # a title of the model (id or name) whose look to ask for, or free text
    steps: int = 12
    guidance: float | None = None  # default: the model's
    seed: int = 0


def make_board(ws: Workspace, request: BoardRequest, reporter: Reporter = SILENT) -> dict[str, Any]:
    """Plan, generate the missing panels and export; returns the project summary and the export paths."""
    screenplay = parse_fountain(request.script)
    chosen = parse_scene_range(request.scenes, len(screenplay.scenes)) if request.scenes else \
        list(range(1, len(screenplay.scenes) + 1))  # fmt: skip
    scenes = {s.number: s for s in screenplay.scenes}
    plans = [p for p in break_down_all(screenplay) if p.scene in chosen]
    digest = sha256_file(request.script)
    with ws.session("storyboard.plan") as s:
        model = find_model(s, request.model)
        credit = " ".join(x for x in (screenplay.credit, ", ".join(screenplay.authors)) if x)
        project = _project(s, ws, request, screenplay.title or request.script.stem, credit, model, digest)
        project.scenes = sorted(set(project.scenes) | set(chosen))
        project.notes = list(screenplay.problems)
        have = {(sh.scene, sh.number) for sh in project.shots}
        for plan in plans:
            if (plan.scene, plan.number) in have:
                continue
            scene = scenes[plan.scene]
            s.add(StoryboardShot(id=shot_id(project.name, plan), project=project, scene=plan.scene,
                                 number=plan.number, heading=scene.heading, plan=plan.as_dict(),
                                 prompt=shot_prompt(plan, scene, project.style)))  # fmt: skip
        s.flush()
        name = project.name
        missing = [sh.id for sh in project.shots if sh.scene in chosen and not _has_take(sh)]
    reporter.begin(f"boarding {len(missing)} shot(s)", len(missing))
    for sid in missing:
        take_shot(ws, sid)
        reporter.step(sid)
    reporter.end()
    from cinefoundry.storyboard.publish import export_board  # the exports pull in reportlab and OTIO

    return {"project": name, "generated": missing} | export_board(ws, name)


def shot_id(project: str, plan: ShotPlan) -> str:
    """The stable id of a shot: project, scene and shot number ("pilot-s003-02")."""
    return f"{project}-s{plan.scene:03d}-{plan.number:02d}"


def take_shot(ws: Workspace, sid: str, seed: int | None = None, prompt: str | None = None,
              size: tuple[int, int] | None = None) -> dict[str, Any]:  # fmt: skip
    """Generate one more take of a shot (a refusal or a failure is stored as a take too); returns the take."""
    with ws.session("storyboard.read") as s:
        shot = _shot(s, sid)
        project = shot.project
        folder = Path(project.folder) / "takes" / shot.id
        number = len(shot.takes) + 1
        last_seed = shot.takes[-1].seed if shot.takes else None
        seed = seed if seed is not None else (last_seed + 1 if last_seed is not None else
                                              project.settings["seed"] + 100 * shot.scene + shot.number)  # fmt: skip
        prompt = prompt or shot.prompt
        model, settings = project.model.label, project.settings
    row: dict[str, Any] = {"shot_id": sid, "number": number, "seed": seed, "prompt": prompt,
                           "size": f"{size[0]}x{size[1]}" if size else None, "created_by": ws.actor}  # fmt: skip
    try:
        doc = generate(ws, GenerateRequest(prompt, model, seed=seed, steps=settings["steps"],
                                           guidance=settings["guidance"], size=size, still=True,
                                           out=folder, file_prefix=f"take{number:02d}"))  # fmt: skip
        take = doc["takes"][0]
        if "refused" in take:
            row |= {"status": "refused", "reason": "; ".join(take["refused"])}
        else:
            files = {o["format"]: o["path"] for o in take["outputs"]}
            key = next(o["path"] for o in take["outputs"] if o["path"].endswith("_key.png"))
            row |= {"status": "generated", "record_id": take["record"], "clip": files["mp4"], "image": key}
    except RefusedError as exc:
        row |= {"status": "refused", "reason": "; ".join(exc.reasons)}
    except (CinefoundryError, ValueError) as exc:
        row |= {"status": "failed", "reason": str(exc)}
    with ws.session("storyboard.take") as s:
        s.add(StoryboardTake(**row))
    return row


def approve(ws: Workspace, sid: str, take: int) -> dict[str, Any]:
    """Mark a generated take as the one the board shows."""
    with ws.session("storyboard.approve") as s:
        shot = _shot(s, sid)
        chosen = next((t for t in shot.takes if t.number == take), None)
        if chosen is None:
            numbers = ", ".join(str(t.number) for t in shot.takes) or "none"
            raise NotFoundError(f"shot {sid} has no take {take} (takes: {numbers})")
        if chosen.status != "generated":
            raise ValueError(f"take {take} of {sid} was {chosen.status}: only a generated take can be approved")
        shot.approved_take = take
        return {"shot": sid, "approved_take": take, "project": shot.project.name}


def shot_project(ws: Workspace, sid: str) -> str:
    with ws.session("storyboard.read") as s:
        return _shot(s, sid).project.name


def _project(s: Session, ws: Workspace, request: BoardRequest, title: str, credit: str, model: StudioModel,
             digest: str) -> StoryboardProject:  # fmt: skip
    """The project of this script: existing (same script version and model) or new."""
    name = request.name or _free_name(s, _slug(title), str(request.script.resolve()))
    project = s.scalar(select(StoryboardProject).where(StoryboardProject.name == name))
    if project is not None:
        if project.script_sha256 != digest:
            raise InputError(str(request.script), f"storyboard {name!r} was made from another version of this "
                             "script; pass --name to start a new board (the old one is kept)")  # fmt: skip
        if project.model_id != model.id:
            raise InputError(str(request.script), f"storyboard {name!r} uses {project.model.label}, not "
                             f"{model.label}; pass --name to board it with another model")  # fmt: skip
        return project
    folder = request.out or ws.home / "storyboards" / name
    project = StoryboardProject(name=name, tenant=ws.settings.tenant, script_path=str(request.script.resolve()),
                                script_sha256=digest, title=title, credit=credit, model=model,
                                style=_style(s, model, request.style), scenes=[],
                                settings={"steps": request.steps, "guidance": request.guidance, "seed": request.seed},
                                folder=str(Path(folder).resolve()), notes=[], created_by=ws.actor)  # fmt: skip
    s.add(project)
    s.flush()
    return project


def _free_name(s: Session, base: str, script_path: str) -> str:
    """`base`, or `base-2`, `base-3`...: the project this script file already has, else the first free name
    (two episodes whose titles share their first 40 characters get two boards)."""
    taken = {p.name: p.script_path for p in s.scalars(select(StoryboardProject)
                                                      .where(StoryboardProject.name.like(f"{base}%")))}  # fmt: skip
    for n in range(1, len(taken) + 2):
        name = base if n == 1 else f"{base}-{n}"
        if taken.get(name) in (None, script_path):
            return name
    raise AssertionError("unreachable: one of len(taken) + 1 names is free")


def _style(s: Session, model: StudioModel, style: str | None) -> str:
    """The house style: a title of the model named by id or name (its caption phrase), or text as given;
    default: the first title the model learned from."""
    titles = list(s.scalars(select(Title).join(ModelGrant, ModelGrant.title_id == Title.id)
                            .where(ModelGrant.model_id == model.id).order_by(Title.id)))  # fmt: skip
    pick = None
    if style:
        pick = next((t for t in titles if style.lower() in (t.id, t.name.lower())), None)
        if pick is None:
            return style
    pick = pick or (titles[0] if titles else None)
    return title_phrase(TitleFacts(pick.name, pick.year, pick.kind, pick.live_action)) if pick else ""


def _shot(s: Session, sid: str) -> StoryboardShot:
    shot = s.get(StoryboardShot, sid)
    if shot is None:
        raise NotFoundError(f"no storyboard shot {sid!r} (see `cinefoundry storyboard shots PROJECT`)")
    return shot


def _has_take(shot: StoryboardShot) -> bool:
    """A panel exists once a take was generated or refused; failed takes are retried on the next run."""
    return any(t.status in ("generated", "refused") for t in shot.takes)


def _slug(text: str) -> str:
    # short enough to lead readable shot ids ("my-pilot-s003-02"), cut at a word boundary
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-") or "board"
