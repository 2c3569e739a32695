"""`cinefoundry storyboard SCRIPT --model M`, and `storyboard shots|retake|approve` to iterate on a board."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from cinefoundry.cli.generate_cmds import parse_size
from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, reporter, table, workspace


class BoardGroup(TyperGroup):
    """`storyboard SCRIPT ...` is `storyboard make SCRIPT ...`: the board is the group's main use."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=BoardGroup, help="Storyboards and previs from a Fountain screenplay; iterate shot by shot.")


@app.command("make")
@handles_errors
def make_cmd(
    script: Annotated[Path, typer.Argument(help="The screenplay (.fountain).")],
    model: Annotated[str, typer.Option("--model", help="Registered model (NAME, NAME@vN or id).")],
    scenes: Annotated[str | None, typer.Option(help="Scenes to board, e.g. 1-3 or 2,5 (default: all).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Board folder (default storyboards/NAME).")] = None,
    name: Annotated[str | None, typer.Option(help="Project name (default: from the script's title).")] = None,
    style: Annotated[str | None, typer.Option(help="House style: a title of the model, or words.")] = None,
    steps: Annotated[int, typer.Option(help="Denoising steps per panel.")] = 12,
    seed: Annotated[int, typer.Option(help="Base seed of the panels.")] = 0,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Parse the script, break scenes into shots, generate a take per shot, export PDF, HTML, animatic, OTIO."""
    from cinefoundry.storyboard.project import BoardRequest, make_board

    request = BoardRequest(script, model, scenes, out_dir, name, style, steps, seed=seed)
    with workspace(home) as ws:
        doc = make_board(ws, request, reporter(as_json))
    _print_board(doc, as_json)


@app.command("shots")
@handles_errors
def shots_cmd(
    project: Annotated[str, typer.Argument(help="Storyboard project name.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every shot of a board: id, size, duration, description, takes and which one is approved."""
    from cinefoundry.storyboard.publish import shots_table

    with workspace(home) as ws:
        shots = shots_table(ws, project)
    if as_json:
        emit_json(shots)
        return
    rows = [[s["id"], s["code"], s["size"], f"{s['duration_s']:.1f} s", s["description"][:60], s["status"],
             " ".join(f"{t['number']}:{t['status']}" for t in s["takes"]), s["approved_take"] or ""]
            for s in shots]  # fmt: skip
    cols = ["shot", "#", "size", "duration", "description", "status", "takes", "approved"]
    out.print(table(f"{project}: {len(shots)} shots", cols, rows))


@app.command("retake")
@handles_errors
def retake_cmd(
    shot: Annotated[str, typer.Argument(help="Shot id (see `storyboard shots`).")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the last take's + 1).")] = None,
    prompt: Annotated[str | None, typer.Option(help="A new prompt for this take.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT within the model's buckets.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new take of one shot; its panel, the animatic and the timeline are updated, the others kept."""
    from cinefoundry.storyboard.project import shot_project, take_shot
    from cinefoundry.storyboard.publish import export_board

    with workspace(home) as ws:
        take = take_shot(ws, shot, seed=seed, prompt=prompt, size=parse_size(size))
        doc = {"take": take} | export_board(ws, shot_project(ws, shot))
    _print_board(doc, as_json)


@app.command("approve")
@handles_errors
def approve_cmd(
    shot: Annotated[str, typer.Argument(help="Shot id.")],
    take: Annotated[int, typer.Argument(help="Take number to show on the board.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a take: the board, animatic and timeline show it from now on."""
    from cinefoundry.storyboard.project import approve
    from cinefoundry.storyboard.publish import export_board

    with workspace(home) as ws:
        doc = approve(ws, shot, take)
        doc |= export_board(ws, doc["project"])
    _print_board(doc, as_json)


def _print_board(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    if "take" in doc:
        t = doc["take"]
        out.print(f"take {t['number']} of {t['shot_id']}: {t['status']}" + (f" ({t['reason']})" if t.get("reason")
                                                                            else ""), highlight=False)  # fmt: skip
    p = doc["panels"]
    out.print(f"storyboard [bold]{doc['project']}[/] (shots: `cinefoundry storyboard shots {doc['project']}`)",
              highlight=False)  # fmt: skip
    out.print(f"[bold]{doc['title']}[/] with {doc['model']} ({doc['dataset_version']}): {doc['shots']} shots, "
              f"{doc['duration_s']:.1f} s; generated {p['generated']}, approved {p['approved']}, refused "
              f"{p['refused']}, failed {p['failed']}")  # fmt: skip
    for note in doc["notes"]:
        out.print(f"note: {note}", highlight=False, markup=False)
    out.print(table("files", ["", ""], [[k, v] for k, v in doc["files"].items()]))
