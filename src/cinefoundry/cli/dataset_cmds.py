"""`cinefoundry dataset build|list|show|audit|remove-title`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from cinefoundry.catalog import terms
from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, table, workspace
from cinefoundry.dataset.audit import audit_dataset, summary_markdown
from cinefoundry.dataset.build import BuildSettings, build_dataset, parse_size, remove_title
from cinefoundry.dataset.models import DatasetVersion
from cinefoundry.ingest.catalog import DEFAULT_CAPTION, ClipCatalog
from cinefoundry.ingest.config import FilterConfig
from cinefoundry.registry.registry import mark_affected_hook

app = typer.Typer(help="Immutable dataset versions frozen from the clip catalog, and their rights audit.")
NameArg = Annotated[str, typer.Argument(help="Dataset name (NAME@vN for one version).")]


@app.command("build")
@handles_errors
def build_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    titles: Annotated[list[str], typer.Option("--titles", help="Only these titles (repeatable).")] = [],
    size: Annotated[str, typer.Option(help="Training sample size WIDTHxHEIGHT (multiples of 16).")] = "64x64",
    frames: Annotated[int, typer.Option(help="Frames per training sample (4k+1).")] = 17,
    fps: Annotated[int, typer.Option(help="Frame rate of training samples.")] = 8,
    filters: Annotated[str, typer.Option(help="Filter thresholds, e.g. 'min_seconds=2,static_motion=off'.")] = "",
    caption: Annotated[str, typer.Option(help="Caption column to train on.")] = DEFAULT_CAPTION,
    on: Annotated[str | None, typer.Option(help="Build date for the rights check, YYYY-MM-DD (default today).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze a new dataset version: rights re-checked on the build date, filters applied to stored scores."""
    width, height = parse_size(size)
    settings = BuildSettings(width, height, frames, fps, FilterConfig().with_overrides(filters), caption, tuple(titles))
    with workspace(home) as ws:
        result = build_dataset(ws.session, ClipCatalog(ws.clips_uri), ws.store, name, settings, ws.actor,
                               terms.date(on))  # fmt: skip
    doc = {"created": result.created, "version": result.version, "titles": result.titles,
           "excluded": result.exclusions, "left_out_clips": result.rejected}  # fmt: skip
    if as_json:
        emit_json(doc)
        return
    v = result.version
    verb = "built" if result.created else "unchanged: same content as"
    out.print(
        f"[bold green]{verb} {v['label']}[/]: {v['clips']} clips, {v['seconds']:.1f} s, hash {v['content_hash'][:16]}"
    )
    out.print(
        table(
            "titles", ["title", "clips", "seconds"], [[t["title_id"], t["clips"], t["seconds"]] for t in result.titles]
        )
    )
    if result.exclusions:
        out.print(table("left out", ["title", "why"], [[e["title_id"], e["reason"]] for e in result.exclusions]))
    if result.rejected:
        out.print("clips left out: " + ", ".join(f"{k} {n}" for k, n in result.rejected.items()))


@app.command("list")
@handles_errors
def list_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every dataset version."""
    with workspace(home) as ws, ws.session("dataset.read") as s:
        versions = [
            v.as_dict() for v in s.scalars(select(DatasetVersion).order_by(DatasetVersion.name, DatasetVersion.number))
        ]
    if as_json:
        emit_json(versions)
        return
    rows = [[v["label"], v["clips"], v["seconds"], v["built_on"], v["content_hash"][:16], v["note"]] for v in versions]
    out.print(
        table(f"{len(versions)} dataset versions", ["version", "clips", "seconds", "built on", "hash", "note"], rows)
    )


@app.command("show")
@handles_errors
def show_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """One dataset version: settings, titles, exclusions."""
    with workspace(home) as ws, ws.session("dataset.read") as s:
        doc = audit_dataset(s, name)
    if as_json:
        emit_json(doc)
        return
    _print_audit(doc)


@app.command("audit")
@handles_errors
def audit_cmd(
    name: NameArg,
    summary: Annotated[
        Path | None, typer.Option(help="Where to write the training-content summary (markdown).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rights audit: titles, grants, licences, attribution lines, clips and seconds; writes the public summary."""
    with workspace(home) as ws, ws.session("dataset.read") as s:
        doc = audit_dataset(s, name)
        path = summary or ws.home / "reports" / f"{doc['dataset']['label']}-training-content-summary.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary_markdown(doc, ws.settings.tenant), encoding="utf-8")
    doc["summary_path"] = str(path.resolve())
    if as_json:
        emit_json(doc)
        return
    _print_audit(doc)
    out.print(f"training-content summary: {doc['summary_path']}")


@app.command("remove-title")
@handles_errors
def remove_title_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    title: Annotated[str, typer.Argument(help="Title id or name.")],
    reason: Annotated[str, typer.Option(help="Why: licence ended, takedown notice, ...")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new version without the title; lists every dataset version (and model) that relied on it."""
    with workspace(home) as ws:
        result, affected = remove_title(ws.session, ws.store, name, title, reason, ws.actor, mark_affected_hook)
    doc = {"version": result.version, "affected_dataset_versions": affected, "affected_models": result.affected_models}
    if as_json:
        emit_json(doc)
        return
    v = result.version
    out.print(f"[bold yellow]{v['label']}[/]: {v['note']} ({v['clips']} clips remain)")
    out.print("dataset versions that contained it: " + ", ".join(a["label"] for a in affected))
    models = [f"{m['label']} (on {m['dataset'] or 'no dataset'})" for m in result.affected_models]
    out.print("models marked affected: " + (", ".join(models) or "none"))


def _print_audit(doc: dict) -> None:
    d = doc["dataset"]
    out.print(f"[bold]{d['label']}[/] built {d['built_on']} by {d['created_by']}: {d['clips']} clips, "
              f"{d['seconds']:.1f} s, hash {d['content_hash']}, clip catalog v{d['catalog_version']}")  # fmt: skip
    rows = [[t["title"], t["clips"], t["seconds"], t["grant"]["licence"], f"#{t['grant']['id']}",
             t["grant"]["status_today"], t["attribution"]] for t in doc["titles"]]  # fmt: skip
    cols = ["title", "clips", "seconds", "licence", "grant", "today", "attribution"]
    out.print(table("titles and grants", cols, rows))
    if doc["excluded"]:
        out.print(table("left out", ["title", "why"], [[e["title_id"], e["reason"]] for e in doc["excluded"]]))
