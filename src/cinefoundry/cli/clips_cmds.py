"""`cinefoundry clips list|show|sheet|export|caption`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cinefoundry.catalog.models import MediaFile
from cinefoundry.catalog.queries import find_title
from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, reporter, table, workspace
from cinefoundry.core.errors import CinefoundryError, NotFoundError
from cinefoundry.ingest.captions import ClipContext, LocalVLMCaptioner, TitleFacts
from cinefoundry.ingest.catalog import DEFAULT_CAPTION, ClipCatalog, row_scores
from cinefoundry.ingest.config import FilterConfig
from cinefoundry.ingest.filters import verdicts
from cinefoundry.ingest.purge import purge_title
from cinefoundry.ingest.sheet import contact_sheet, middle_frame

app = typer.Typer(help="Training clips: list them with their verdicts, look at them, add captions.")
FiltersOpt = Annotated[str, typer.Option(help="Filter thresholds, e.g. 'min_seconds=2,text_coverage=off'.")]


def _rows_with_verdicts(catalog: ClipCatalog, filters: str, title_id: str | None = None) -> list[dict]:
    rows = catalog.rows()
    reasons = verdicts(rows, FilterConfig().with_overrides(filters))
    rows = [r | {"reject_reasons": reasons[r["clip_id"]]} for r in rows]
    return [r for r in rows if title_id is None or r["title_id"] == title_id]


@app.command("list")
@handles_errors
def list_cmd(
    title: Annotated[str | None, typer.Option(help="Only this title.")] = None,
    rejected: Annotated[bool | None, typer.Option("--rejected/--kept", help="Only rejected, or only kept.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    filters: FiltersOpt = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Clips with their time range, camera move, verdict (reasons when rejected) and caption."""
    with workspace(home) as ws:
        title_id = None
        if title:
            with ws.session("clips.read") as s:
                title_id = find_title(s, title).id
        rows = _rows_with_verdicts(ClipCatalog(ws.clips_uri), filters, title_id)
    if rejected is not None:
        rows = [r for r in rows if bool(r["reject_reasons"]) == rejected]
    rows = sorted(rows, key=lambda r: (r["title_id"], r["media_file_id"], r["start_s"]))[:limit]
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} clips", ["clip", "title", "time (s)", "frames", "camera", "verdict", "caption"], [
        [r["clip_id"][:12], r["title_id"], f"{r['start_s']:.2f}-{r['end_s']:.2f}", r["frames"],
         f"{r['camera_move']} {r['camera_direction']}".strip(),
         "; ".join(x.split(":")[0] for x in r["reject_reasons"]) or "kept", r[DEFAULT_CAPTION][:70]]
        for r in rows]))  # fmt: skip


@app.command("show")
@handles_errors
def show_cmd(
    clip: Annotated[str, typer.Argument(help="Clip id (a unique prefix is enough).")],
    filters: FiltersOpt = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything about one clip: lineage (title, file, time range, grant), scores, verdict, captions."""
    with workspace(home) as ws:
        row = _find(_rows_with_verdicts(ClipCatalog(ws.clips_uri), filters), clip)
        with ws.session("clips.read") as s:
            media = s.get(MediaFile, row["media_file_id"])
            row["media_uri"] = media.uri if media else None
    if as_json:
        emit_json(row)
        return
    out.print(table(f"clip {row['clip_id']}", ["", ""], [[k, v] for k, v in row.items()]))


@app.command("sheet")
@handles_errors
def sheet_cmd(
    title: Annotated[str, typer.Argument(help="Title id or name.")],
    out_path: Annotated[Path | None, typer.Option("--out", help="PNG file (default: <title>-clips.png).")] = None,
    columns: Annotated[int, typer.Option(help="Thumbnails per row.")] = 4,
    filters: FiltersOpt = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A contact sheet of a title's clips: middle frames with verdict and caption (rejected in red)."""
    with workspace(home) as ws:
        with ws.session("clips.read") as s:
            title_id = find_title(s, title).id
        catalog = ClipCatalog(ws.clips_uri)
        rows = _rows_with_verdicts(catalog, filters, title_id)
        rows.sort(key=lambda r: (r["media_file_id"], r["start_s"]))
        if not rows:
            raise CinefoundryError(f"{title_id} has no clips: run `cinefoundry ingest --title {title_id}`")
        videos = catalog.videos([r["clip_id"] for r in rows])
        cells = []
        for r in rows:
            verdict = "; ".join(x.split(":")[0] for x in r["reject_reasons"]) or "kept"
            text = f"[{verdict}] {r['start_s']:.1f}s {r[DEFAULT_CAPTION].split('. ', 1)[-1]}"
            cells.append((middle_frame(videos[r["clip_id"]]), text, not r["reject_reasons"]))
        path = out_path or Path(f"{title_id}-clips.png")
        contact_sheet(cells, columns).save(path)
    info = {"title": title_id, "clips": len(rows), "path": str(path.resolve())}
    if as_json:
        emit_json(info)
    else:
        out.print(f"contact sheet of {len(rows)} clips: {info['path']}")


@app.command("export")
@handles_errors
def export_cmd(
    clip: Annotated[str, typer.Argument(help="Clip id (a unique prefix is enough).")],
    out_path: Annotated[Path, typer.Option("--out", help="MP4 file to write.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a clip's video (H.264 MP4) to a file."""
    with workspace(home) as ws:
        catalog = ClipCatalog(ws.clips_uri)
        row = _find(catalog.rows(columns=["clip_id"]), clip)
        out_path.write_bytes(catalog.videos([row["clip_id"]])[row["clip_id"]])
    info = {"clip_id": row["clip_id"], "path": str(out_path.resolve())}
    if as_json:
        emit_json(info)
    else:
        out.print(f"wrote {info['path']}")


@app.command("caption")
@handles_errors
def caption_cmd(
    model_dir: Annotated[Path, typer.Option(help="Local folder of a vision-language model (transformers).")],
    title: Annotated[str | None, typer.Option(help="Only this title's clips.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a caption column from a vision-language model in a local folder (nothing is downloaded)."""
    captioner = LocalVLMCaptioner(str(model_dir))
    with workspace(home) as ws:
        catalog = ClipCatalog(ws.clips_uri)
        with ws.session("clips.read") as s:
            title_id = find_title(s, title).id if title else None
            rows = [r for r in catalog.rows() if title_id is None or r["title_id"] == title_id]
            facts = {}
            for r in rows:
                if r["title_id"] not in facts:
                    t = find_title(s, r["title_id"])
                    facts[t.id] = TitleFacts(t.name, t.year, t.kind, t.live_action)
        progress = reporter(as_json)
        progress.begin(f"captioning with {captioner.name}", len(rows))
        captions = {}
        videos: dict[str, bytes] = {}
        for i, r in enumerate(rows):
            if r["clip_id"] not in videos:  # one catalog read per batch of clips, not per clip
                videos = catalog.videos([x["clip_id"] for x in rows[i : i + 64]])
            frame = middle_frame(videos[r["clip_id"]])[:, :, ::-1]
            context = ClipContext(facts[r["title_id"]], row_scores(r), r["start_s"], r["end_s"], frame=frame)
            captions[r["clip_id"]] = captioner.caption(context)
            progress.step(r["clip_id"][:12])
        progress.end()
        column = catalog.add_captions(captioner.name, captions)
    info = {"column": column, "clips": len(captions), "catalog_version": ClipCatalog(ws.clips_uri).version}
    if as_json:
        emit_json(info)
    else:
        out.print(f"added {column} to {len(captions)} clips")


@app.command("purge")
@handles_errors
def purge_cmd(
    title: Annotated[str, typer.Argument(help="Title id or name.")],
    reason: Annotated[str, typer.Option(help="Why: licence ended, takedown notice, ...")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a title's clips from the clip catalog (a new version); earlier dataset versions stay as built."""
    if not reason.strip():
        raise CinefoundryError("purging a title needs a reason")
    with workspace(home) as ws, ws.session("clips.purge") as s:
        t = find_title(s, title)
        info = purge_title(s, ClipCatalog(ws.clips_uri), t) | {"title": t.id, "reason": reason.strip()}
    if as_json:
        emit_json(info)
    else:
        out.print(f"purged {info['catalog_clips']} clips of {t.id} ({reason.strip()}); clip catalog now "
                  f"v{info['catalog_version']}")  # fmt: skip


def _find(rows: list[dict], prefix: str) -> dict:
    found = [r for r in rows if r["clip_id"].startswith(prefix.lower())]
    if len(found) != 1:
        raise NotFoundError(f"no clip {prefix!r}" if not found else f"{prefix!r} matches {len(found)} clips")
    return found[0]
