"""`cinefoundry ingest`: plan, run, commit.

Plan: ask the rights gate for every title (`train`, on the run's date); skip files already done under this
configuration (completion markers). Run: an executor processes the rest, one file per worker. Commit: as
each file finishes, its clips replace that file's rows in the clip catalog (Lance), then its clip rows and
completion marker are written in one database transaction, so a killed run resumes where it stopped and
never duplicates a clip.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any

import fsspec
import pysubs2
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cinefoundry.catalog.models import MediaFile, Title
from cinefoundry.catalog.policy import allowed
from cinefoundry.catalog.queries import find_title
from cinefoundry.core.progress import SILENT, Reporter
from cinefoundry.core.store import ObjectStore
from cinefoundry.ingest.captions import TitleFacts
from cinefoundry.ingest.catalog import DEFAULT_CAPTION, ClipCatalog
from cinefoundry.ingest.config import IngestConfig
from cinefoundry.ingest.executors import make_executor
from cinefoundry.ingest.filters import reason_kind, verdicts
from cinefoundry.ingest.models import Clip, IngestMarker
from cinefoundry.ingest.pipeline import ClipRecord, MediaResult, MediaTask

SessionFactory = Callable[[str], AbstractContextManager[Session]]
SKIPPED_ROLES = ("alternate_encode",)  # the catalog says these duplicate another file of the title


@dataclass
class TitleReport:
    """One title in an ingest run: allowed or not (why), files done, clips kept and rejected by reason."""

    id: str
    name: str
    allowed: bool
    reason: str
    grant_id: int | None = None
    files: int = 0
    processed: int = 0
    already_done: int = 0
    alternates: int = 0  # alternate encodes of another file: duplicate content, not ingested
    failed: int = 0
    clips: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestReport:
    processing_hash: str
    config: dict[str, Any]
    executor: str
    workers: int
    titles: list[TitleReport] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    footage_s: float = 0.0  # seconds of footage processed in this run
    cpu_s: float = 0.0  # worker CPU seconds spent on it
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def run_ingest(
    session: SessionFactory,
    store: ObjectStore,
    catalog: ClipCatalog,
    titles: list[str] | None = None,
    config: IngestConfig | None = None,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    reporter: Reporter = SILENT,
    on: dt.date | None = None,
    include_alternates: bool = False,
) -> IngestReport:
    """Ingest every allowed title (or the named ones); see the module docstring for the three phases."""
    started = time.perf_counter()
    cfg = (config or IngestConfig()).resolved(gpu=gpu_available())
    report = IngestReport(cfg.processing_hash(), cfg.as_dict(), executor, workers)
    tasks = _plan(session, cfg, titles, on, report, include_alternates)
    by_id = {t.id: t for t in report.titles}
    task_of = {t.media_file_id: t for t in tasks}
    results = make_executor(executor, workers, ray_address).run(tasks)  # local workers start here
    reporter.begin("ingesting media", len(tasks))
    try:
        for result in results:
            task = task_of[result.media_file_id]
            title = by_id[task.title_id]
            if result.error:
                report.errors.append({"source": task.uri, "problem": result.error})
                title.failed += 1
            else:
                commit(session, catalog, store, task, result)
                title.processed += 1
                report.footage_s += result.footage_s
            report.cpu_s += result.cpu_s
            reporter.step(os.path.basename(task.uri))
    finally:
        reporter.end()
    catalog.compact()  # one fragment per committed file: merge them once they add up
    _count_verdicts(catalog, cfg, report)
    report.wall_s = time.perf_counter() - started
    return report


def _plan(
    session: SessionFactory,
    cfg: IngestConfig,
    refs: list[str] | None,
    on: dt.date | None,
    report: IngestReport,
    include_alternates: bool,
) -> list[MediaTask]:
    tasks: list[MediaTask] = []
    with session("ingest.plan") as s:
        chosen = [find_title(s, r) for r in refs] if refs else list(s.scalars(select(Title).order_by(Title.id)))
        for title in chosen:
            decision = allowed(title, "train", on=on)
            grant_id = int(decision.basis.split(":")[1]) if decision.ok and decision.basis else None
            entry = TitleReport(title.id, title.name, decision.ok, decision.reason, grant_id, len(title.media_files))
            report.titles.append(entry)
            if not decision.ok:
                continue
            facts = TitleFacts(title.name, title.year, title.kind, title.live_action)
            for media in title.media_files:
                if media.role in SKIPPED_ROLES and not include_alternates:
                    entry.alternates += 1
                    continue
                done = s.get(IngestMarker, (media.sha256, report.processing_hash, media.id))
                if done is not None:
                    entry.already_done += 1
                    continue
                tasks.append(
                    MediaTask(
                        media_file_id=media.id,
                        media_sha256=media.sha256,
                        uri=media.uri,
                        fps=media.fps,
                        title_id=title.id,
                        grant_id=grant_id,
                        title=facts,
                        cues=_cues(title, media),
                        config=cfg,
                        size_hint=media.bytes,
                    )
                )
    return tasks


def commit(
    session: SessionFactory, catalog: ClipCatalog, store: ObjectStore, task: MediaTask, result: MediaResult
) -> None:
    """Record one finished file: videos, catalog rows (both idempotent), then clip rows and marker together."""
    for clip in result.clips:
        store.put_bytes(clip.video)
    catalog.replace_media(task.media_file_id, [catalog_row(task, result, c) for c in result.clips])
    with session("ingest.commit") as s:
        s.execute(delete(Clip).where(Clip.media_file_id == task.media_file_id))
        s.execute(delete(IngestMarker).where(IngestMarker.media_file_id == task.media_file_id))
        s.add_all(
            Clip(
                id=c.clip_id,
                title_id=task.title_id,
                media_file_id=task.media_file_id,
                grant_id=task.grant_id,
                processing_hash=result.processing_hash,
                start_s=c.start_s,
                end_s=c.end_s,
                frames=c.frames,
                fps=task.config.clips.fps,
                width=c.width,
                height=c.height,
                video_sha256=c.video_sha256,
            )
            for c in result.clips
        )
        summary = {"shots": result.shots, "transitions": result.transitions, "flashes": result.flashes,
                   "spans": result.spans, "crop": result.crop, "frames": result.frames, "fps": task.fps}  # fmt: skip
        s.add(
            IngestMarker(
                media_sha256=task.media_sha256,
                processing_hash=result.processing_hash,
                media_file_id=task.media_file_id,
                clips=len(result.clips),
                footage_s=result.footage_s,
                cpu_s=result.cpu_s,
                summary=json.dumps(summary),
            )
        )


def catalog_row(task: MediaTask, result: MediaResult, clip: ClipRecord) -> dict[str, Any]:
    """The clip catalog row of one clip."""
    s = clip.scores
    x0, y0, x1, y1 = result.crop or (0, 0, 0, 0)
    return {
        "clip_id": clip.clip_id,
        "title_id": task.title_id,
        "grant_id": task.grant_id,
        "media_file_id": task.media_file_id,
        "media_sha256": task.media_sha256,
        "processing_hash": result.processing_hash,
        "shot": clip.shot,
        "part": clip.part,
        "start_s": clip.start_s,
        "end_s": clip.end_s,
        "slot_start": clip.slot_start,
        "slot_end": clip.slot_end,
        "frames": clip.frames,
        "fps": task.config.clips.fps,
        "width": clip.width,
        "height": clip.height,
        "source_pixels": (x1 - x0) * (y1 - y0),
        "crop": [x0, y0, x1, y1],
        "span": clip.span,
        **{k: s[k] for k in SCORE_KEYS},
        "dominant_colours": json.dumps(s["dominant_colours"]),
        "dialogue": clip.dialogue,
        DEFAULT_CAPTION: clip.caption,
        "video_sha256": clip.video_sha256,
        "video": clip.video,
    }


def _count_verdicts(catalog: ClipCatalog, cfg: IngestConfig, report: IngestReport) -> None:
    """Clips kept and rejected per title and reason, under this run's filter settings."""
    rows = catalog.rows(columns=VERDICT_COLUMNS)
    reasons = verdicts(rows, cfg.filters)
    by_title = {t.id: t for t in report.titles}
    for row in rows:
        title = by_title.get(row["title_id"])
        if title is None:
            continue
        title.clips += 1
        found = reasons[row["clip_id"]]
        if found:
            counts = Counter(title.rejected) + Counter(reason_kind(r) for r in found)
            title.rejected = dict(sorted(counts.items()))
        else:
            title.kept += 1


SCORE_KEYS = ("brightness", "contrast", "colourfulness", "sharpness", "motion", "camera_move", "camera_direction",
              "text", "title_card", "black", "fade", "phash")  # fmt: skip
SCORE_KEYS = ("brightness", "contrast", "colourfulness", "sharpness", "motion", "camera_move", "camera_direction",
              "text", "title_card", "black", "fade", "phash")  # fmt: skip
VERDICT_COLUMNS = ["clip_id", "title_id", "frames", "fps", "black", "fade", "motion", "sharpness", "text",
                   "title_card", "span", "phash", "source_pixels"]  # fmt: skip


def _cues(title: Title, media: MediaFile) -> list[tuple[float, float, str]]:
    """Subtitle lines on this file's timeline: only when the file's place in the title is known."""
    if media.film_offset_s is None or not title.subtitles:
        return []
    chosen = next((x for x in title.subtitles if (x.language or "").startswith("en")), title.subtitles[0])
    with fsspec.open(chosen.uri, "rb") as f:
        subs = pysubs2.SSAFile.from_string(f.read().decode("utf-8-sig"))
    offset, end = media.film_offset_s, media.duration_s
    cues = []
    for event in subs:
        a, b = event.start / 1000 - offset, event.end / 1000 - offset
        if b > 0 and a < end and event.plaintext.strip():
            cues.append((round(a, 3), round(b, 3), " ".join(event.plaintext.split())))
    return cues


def gpu_available() -> bool:
    """True when torch sees a CUDA device (torch is imported only where NVIDIA devices exist)."""
    if not (os.path.exists("/dev/nvidiactl") or os.environ.get("CUDA_VISIBLE_DEVICES")):
        return False
    import torch

    return torch.cuda.is_available()
