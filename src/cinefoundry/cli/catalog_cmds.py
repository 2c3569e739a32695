"""`cinefoundry catalog import|list|show`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from cinefoundry.catalog.importer import ImportReport, import_catalog
from cinefoundry.catalog.models import Title
from cinefoundry.catalog.probe import PROBE_MODES
from cinefoundry.catalog.queries import find_title, title_detail, title_summary
from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, reporter, table, workspace

app = typer.Typer(help="Titles, media files, subtitles, cast and characters.")

ProbeOpt = Annotated[
    str,
    typer.Option(
        help="full: decode every frame (exact counts, finds broken files); fast: count packets, decode the first."
    ),
]


@app.command("import")
@handles_errors
def import_cmd(
    path: Annotated[
        Path, typer.Argument(help="Library folder of title folders, a title folder, or a .csv/.json manifest.")
    ],
    probe: ProbeOpt = "full",
    workers: Annotated[int, typer.Option(help="Files measured in parallel, one per process.")] = min(
        4, os.cpu_count() or 1
    ),
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import titles with their media (measured with PyAV), subtitles, cast, characters and grants.

    Importing again changes nothing; a media file whose content changed is reported, not replaced. A title
    with a problem is not written; the others are, and the command exits 1 with a summary.
    """
    if probe not in PROBE_MODES:
        raise ValueError(f"--probe must be one of {', '.join(PROBE_MODES)}")
    with workspace(home) as ws:
        report = import_catalog(path, ws.session, ws.actor, probe, workers, reporter(as_json))
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: ImportReport) -> None:
    rows = [[t.id, t.name, t.status, len(t.changes), "; ".join(t.warnings)] for t in report.titles]
    out.print(table(f"import {report.path}", ["title", "name", "status", "changes", "warnings"], rows))
    for note in report.skipped:
        out.print(f"[dim]skipped {note}[/]")
    c = report.counts()
    summary = f"{c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged, {c['failed']} failed"
    if report.errors:
        out.print(table("problems", ["file", "problem"], [[e["source"], e["problem"]] for e in report.errors]))
        out.print(f"[bold red]{len(report.errors)} problem(s)[/]: {summary}")
    else:
        out.print(f"[bold green]ok[/]: {summary}")


@app.command("list")
@handles_errors
def list_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every title with its media, running time, cast size and the uses its active grants allow."""
    with workspace(home) as ws, ws.session("catalog.read") as s:
        titles = [title_summary(t) for t in s.scalars(select(Title).order_by(Title.id))]
    if as_json:
        emit_json(titles)
        return
    rows = [[t["id"], t["name"], t["year"], t["kind"], t["media_files"], f"{t['duration_s']:.1f}", t["frames"],
             t["performers"], ",".join(t["uses"]) or "-"] for t in titles]  # fmt: skip
    cols = ["id", "title", "year", "kind", "files", "seconds", "frames", "performers", "allowed uses"]
    out.print(table(f"catalog: {len(titles)} titles", cols, rows))


@app.command("show")
@handles_errors
def show_cmd(
    title: Annotated[str, typer.Argument(help="Title id, EIDR id or exact name.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything recorded about one title."""
    with workspace(home) as ws, ws.session("catalog.read") as s:
        detail = title_detail(find_title(s, title))
    if as_json:
        emit_json(detail)
        return
    head = ["id", "name", "year", "kind", "eidr_id", "rights_holder", "director", "attribution", "live_action"]
    out.print(table(detail["name"], ["", ""], [[k, detail[k]] for k in head]))
    out.print(table("media (measured with PyAV)", ["file", "codec", "size", "fps", "frames", "seconds", "sha256"], [
        [Path(m["uri"]).name, m["video_codec"], f"{m['width']}x{m['height']}", m["fps_rational"], m["frame_count"],
         m["duration_s"], m["sha256"][:16]] for m in detail["media_files"]]))  # fmt: skip
    if detail["subtitles"]:
        subs = [[Path(x["uri"]).name, x["language"], x["cue_count"]] for x in detail["subtitles"]]
        out.print(table("subtitles", ["file", "language", "cues"], subs))
    if detail["cast"]:
        out.print(table("cast", ["performer", "credit"], [[c["performer"], c["role"]] for c in detail["cast"]]))
    if detail["characters"]:
        out.print(table("characters", ["character", "performer", "performance"],
                        [[c["name"], c["performer"], c["performance"]] for c in detail["characters"]]))  # fmt: skip
    out.print(table("grants", ["#", "status", "licence", "uses", "territories", "window"], [
        [g["id"], g["status"], g["licence"], ",".join(g["uses"]), ",".join(g["territories"]),
         f"{g['window_start'] or '...'} - {g['window_end'] or 'open'}"] for g in detail["grants"]]))  # fmt: skip
