"""`cinefoundry ingest`."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated

import typer

from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, reporter, table, workspace
from cinefoundry.ingest.catalog import ClipCatalog
from cinefoundry.ingest.config import ClipConfig, IngestConfig, ShotConfig
from cinefoundry.ingest.executors import EXECUTORS
from cinefoundry.ingest.run import IngestReport, run_ingest


@handles_errors
def ingest(
    title: Annotated[list[str], typer.Option("--title", help="Only these titles (repeatable; default all).")] = [],
    executor: Annotated[str, typer.Option(help=f"Where files are processed: {' or '.join(EXECUTORS)}.")] = "local",
    workers: Annotated[int, typer.Option(help="Files processed in parallel, one per process.")] = min(
        4, os.cpu_count() or 1
    ),
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to join (default: a local Ray).")] = None,
    transnet: Annotated[
        str, typer.Option(help="TransNetV2 shot tier: auto (on with a GPU), on, off.")
    ] = ShotConfig.transnet,
    clip_fps: Annotated[int, typer.Option(help="Frame rate of training clips.")] = ClipConfig.fps,
    clip_short_side: Annotated[int, typer.Option(help="Short side of training clips, px.")] = ClipConfig.short_side,
    max_seconds: Annotated[float, typer.Option(help="Longest training clip, seconds.")] = ClipConfig.max_seconds,
    include_alternates: Annotated[
        bool, typer.Option(help="Also ingest files the catalog marks as alternate encodes of another file.")
    ] = False,
    filters: Annotated[
        str, typer.Option(help="Filter thresholds for the report, e.g. 'min_seconds=2,text_coverage=off'.")
    ] = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cut every title the rights gate allows for training into curated, captioned clips.

    One decode per file; shots from two tiers; clips of 4k+1 frames at a fixed rate and size, letterbox
    cropped, scored and captioned. Files already done under the same settings are skipped, so a killed
    run resumes; rejected clips are kept with their reasons. Exit 1 if a file failed or a title was denied.
    """
    if transnet not in ("auto", "on", "off"):
        raise ValueError("--transnet is auto, on or off")
    base = IngestConfig()
    config = replace(
        base,
        shots=replace(base.shots, transnet=transnet),
        clips=replace(base.clips, fps=clip_fps, short_side=clip_short_side, max_seconds=max_seconds),
        filters=base.filters.with_overrides(filters),
    )
    with workspace(home) as ws:
        report = run_ingest(
            ws.session, ws.store, ClipCatalog(ws.clips_uri), title or None, config, executor, workers,
            ray_address, reporter(as_json), include_alternates=include_alternates,
        )  # fmt: skip
    if as_json:
        emit_json(report.as_dict())
    else:
        _print(report)
    if report.errors or any(not t.allowed for t in report.titles):
        raise typer.Exit(1)


def _print(report: IngestReport) -> None:
    rows = []
    for t in report.titles:
        rejected = ", ".join(f"{k} {n}" for k, n in t.rejected.items())
        files = f"{t.processed} new, {t.already_done} done before" + (f", {t.failed} FAILED" if t.failed else "")
        files += f", {t.alternates} alternate" if t.alternates else ""
        rows.append([t.id, files if t.allowed else "DENIED", t.clips, t.kept, rejected, "" if t.allowed else t.reason])
    out.print(table(f"ingest ({report.executor}, {report.workers} workers, settings {report.processing_hash})",
                    ["title", "files", "clips", "kept", "rejected", "why denied"], rows))  # fmt: skip
    for e in report.errors:
        out.print(f"[bold red]failed[/] {e['source']}: {e['problem'].splitlines()[0]}", highlight=False)
    if report.footage_s:
        speed = report.footage_s / report.wall_s if report.wall_s else 0
        out.print(f"{report.footage_s:.1f} s of footage in {report.wall_s:.1f} s ({speed:.1f}x realtime; "
                  f"{report.cpu_s:.1f} worker CPU-seconds)")  # fmt: skip
